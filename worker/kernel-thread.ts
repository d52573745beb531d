import { parentPort } from 'node:worker_threads';
import type { Chunk } from '../common/chunk.js';
import { TaskError } from '../common/errors.js';
import { failureOf } from './kernel-errors.js';
import { kernelFor } from './kernels/registry.js';
import type { ThreadReply, ThreadRequest } from './thread-messages.js';

/** Entry of a kernel thread: runs one kernel at a time for the worker's main thread. */

/**
 * Array chunks go back in shared memory: the worker keeps them and hands them to the kernels of
 * later tasks, often several, and a shared buffer crosses to a thread without being copied
 * (an ordinary one is cloned on every crossing). One copy here saves one per consumer.
 */
function shared(chunk: Chunk): Chunk {
  if (chunk.kind !== 'array' || chunk.data.buffer instanceof SharedArrayBuffer) return chunk;
  const data = chunk.data;
  const bytes = new SharedArrayBuffer(data.byteLength);
  new Uint8Array(bytes).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  const Constructor = data.constructor as new (buffer: SharedArrayBuffer) => typeof data;
  return { ...chunk, data: new Constructor(bytes) };
}

/** Encoded bytes are sent once, to the main thread: moved rather than copied. */
function transferables(chunk: Chunk): ArrayBuffer[] {
  if (chunk.kind !== 'bytes') return [];
  const buffer = chunk.data.buffer;
  return buffer instanceof ArrayBuffer ? [buffer] : [];
}

parentPort!.on('message', async (request: ThreadRequest) => {
  const flag = new Int32Array(request.cancelFlag);
  const signal = {
    get aborted(): boolean {
      return Atomics.load(flag, 0) !== 0;
    },
  };
  let reply: ThreadReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const kernel = kernelFor(request.op);
    if (!kernel) throw new TaskError('internal', `unknown kernel ${request.op}`);
    const output = await kernel.run(request.args as never, request.inputs, { ...request.context, signal });
    const chunk = shared(output.chunk);
    reply = { id: request.id, ok: true, chunk, meta: output.meta };
    transfer = transferables(chunk);
  } catch (error) {
    reply = { id: request.id, ok: false, failure: failureOf(error) };
  }
  parentPort!.postMessage(reply, transfer);
});
