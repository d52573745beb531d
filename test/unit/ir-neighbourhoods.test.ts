import { describe, expect, it } from 'vitest';
import type { IRNode } from '../../common/ir.js';
import { evaluate } from '../../worker/ir/evaluate.js';
import type { NDArray } from '../../worker/ir/nd-array.js';

/**
 * The IR operations that cut, pad and filter windows: slice, take with missing labels and
 * convolve (the kernel over a tile that carries its halo).
 */

function input(dims: string[], shape: number[], values: number[]): { node: IRNode; inputs: { kind: 'array'; dims: string[]; shape: number[]; data: Float64Array }[] } {
  return { node: { op: 'input', index: 0 }, inputs: [{ kind: 'array', dims, shape, data: Float64Array.from(values) }] };
}

async function run(node: IRNode, inputs: ReturnType<typeof input>['inputs'] = []): Promise<NDArray> {
  return evaluate(node, { inputs, dataDir: '', signal: { aborted: false } });
}

const GRID = Array.from({ length: 20 }, (_, i) => i); // t=2 × y=2 × x=5

describe('slice', () => {
  it('keeps a window of any dimension', async () => {
    const { node, inputs } = input(['t', 'y', 'x'], [2, 2, 5], GRID);
    const out = await run({ op: 'slice', dim: 'x', start: 1, end: 4, x: node }, inputs);
    expect(out.shape).toEqual([2, 2, 3]);
    expect(Array.from(out.data)).toEqual([1, 2, 3, 6, 7, 8, 11, 12, 13, 16, 17, 18]);
    const time = await run({ op: 'slice', dim: 't', start: 1, end: 2, x: node }, inputs);
    expect(Array.from(time.data)).toEqual(GRID.slice(10));
  });

  it('may be empty and refuses windows outside the dimension', async () => {
    const { node, inputs } = input(['t', 'y', 'x'], [2, 2, 5], GRID);
    expect((await run({ op: 'slice', dim: 'y', start: 1, end: 1, x: node }, inputs)).shape).toEqual([2, 0, 5]);
    await expect(run({ op: 'slice', dim: 'x', start: 3, end: 6, x: node }, inputs)).rejects.toThrow(/outside dimension x/);
  });
});

describe('take', () => {
  it('reorders, repeats, and gives no data for a missing label (-1)', async () => {
    const { node, inputs } = input(['t', 'y', 'x'], [2, 2, 5], GRID);
    const out = await run({ op: 'take', dim: 't', indices: [1, -1, 0], x: node }, inputs);
    expect(out.shape).toEqual([3, 2, 5]);
    expect(Array.from(out.data.slice(0, 10))).toEqual(GRID.slice(10));
    expect(Array.from(out.data.slice(10, 20)).every(Number.isNaN)).toBe(true);
    expect(Array.from(out.data.slice(20))).toEqual(GRID.slice(0, 10));
  });
});

/** A straightforward correlation with zero padding, for comparison. */
function reference(plane: number[][], kernel: number[][], factor: number, replaceInvalid: number): number[][] {
  const ky = (kernel.length - 1) / 2;
  const kx = (kernel[0]!.length - 1) / 2;
  return plane.map((row, r) =>
    row.map((_, c) => {
      let sum = 0;
      kernel.forEach((weights, i) =>
        weights.forEach((w, j) => {
          const rr = r + i - ky;
          const cc = c + j - kx;
          const v = rr >= 0 && rr < plane.length && cc >= 0 && cc < row.length ? plane[rr]![cc]! : 0;
          sum += w * (Number.isFinite(v) ? v : replaceInvalid);
        }),
      );
      return sum * factor;
    }),
  );
}

describe('convolve', () => {
  const plane = [
    [1, 2, 3, 4],
    [5, NaN, 7, 8],
    [9, 10, Infinity, 12],
  ];
  // The same plane with a zero halo of one pixel, as the compiler would hand it over.
  const padded = [[0, 0, 0, 0, 0, 0], ...plane.map((row) => [0, ...row, 0]), [0, 0, 0, 0, 0, 0]];

  it('weighs each neighbourhood as the kernel is written (not mirrored), halo included', async () => {
    const kernel = [
      [0, 1, 0],
      [2, 3, 0],
      [0, 0, -1],
    ];
    const { node, inputs } = input(['y', 'x'], [5, 6], padded.flat());
    const out = await run({ op: 'convolve', kernel, factor: 0.5, replaceInvalid: -2, x: node }, inputs);
    expect(out.shape).toEqual([3, 4]);
    expect(Array.from(out.data)).toEqual(reference(plane, kernel, 0.5, -2).flat());
  });

  it('runs on every plane of the other dimensions', async () => {
    const kernel = [[1, 1, 1]];
    const values = [...padded.flat(), ...padded.flat().map((v) => v * 10)];
    const { node, inputs } = input(['t', 'y', 'x'], [2, 5, 6], values);
    const out = await run({ op: 'convolve', kernel, factor: 1, replaceInvalid: 0, x: { op: 'slice', dim: 'y', start: 1, end: 4, x: node } }, inputs);
    expect(out.shape).toEqual([2, 3, 4]);
    const first = reference(plane, kernel, 1, 0).flat();
    expect(Array.from(out.data.slice(0, 12))).toEqual(first);
    expect(Array.from(out.data.slice(12))).toEqual(first.map((v) => v * 10));
  });

  it('refuses a window smaller than the kernel', async () => {
    const { node, inputs } = input(['y', 'x'], [2, 2], [1, 2, 3, 4]);
    await expect(run({ op: 'convolve', kernel: [[1, 1, 1]], factor: 1, replaceInvalid: 0, x: { op: 'slice', dim: 'x', start: 0, end: 1, x: node } }, inputs)).rejects.toThrow(/does not fit/);
  });
});
