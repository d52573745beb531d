import type { Chunk } from '../../common/chunk.js';
import type { KernelDefinition } from './kernel.js';

/** Kernels of the scheduler benchmarks: they measure scheduling, not computing. */

const NOTHING: Chunk = { kind: 'json', value: null };

export const noop: KernelDefinition = { placement: 'inline', run: () => ({ chunk: NOTHING }) };

/** A small block of ones (`args.length` elements): the leaves of the array-sum benchmark. */
export const ones: KernelDefinition = {
  placement: 'inline',
  run: (args: { length: number }) => {
    const data = new Float64Array(args.length).fill(1);
    return { chunk: { kind: 'array', dims: ['i'], shape: [args.length], data } };
  },
};

/** Sums its inputs (arrays or scalars) into one scalar. */
export const sum: KernelDefinition = {
  placement: 'inline',
  run: (_args: unknown, inputs: Chunk[]) => {
    let total = 0;
    for (const input of inputs) {
      if (input.kind === 'array') for (let i = 0; i < input.data.length; i++) total += input.data[i]!;
      else if (input.kind === 'json' && typeof input.value === 'number') total += input.value;
    }
    return { chunk: { kind: 'json', value: total }, meta: total };
  },
};

/** Adds one to its single input (a chain of dependent tasks). */
export const increment: KernelDefinition = {
  placement: 'inline',
  run: (_args: unknown, inputs: Chunk[]) => {
    const input = inputs[0];
    const value = input?.kind === 'json' && typeof input.value === 'number' ? input.value : 0;
    return { chunk: { kind: 'json', value: value + 1 }, meta: value + 1 };
  },
};

/** Busy for `args.ms` milliseconds on a thread, checking for cancellation (tests of cancel and placement). */
export const spin: KernelDefinition = {
  placement: 'thread',
  run: (args: { ms: number; value?: number }, _inputs, context) => {
    const end = Date.now() + args.ms;
    while (Date.now() < end) {
      if (context.signal.aborted) break;
    }
    return { chunk: { kind: 'json', value: args.value ?? null }, meta: args.value ?? null };
  },
};
