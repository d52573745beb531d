import { parentPort } from 'node:worker_threads';
import type { Chunk } from '../common/chunk.js';
import { TaskError } from '../common/errors.js';
import { failureOf } from './kernel-errors.js';
import { kernelFor } from './kernels/registry.js';
import type { ThreadReply, ThreadRequest } from './thread-messages.js';

/** Entry of a kernel thread: runs one kernel at a time for the worker's main thread. */

function transferables(chunk: Chunk): ArrayBuffer[] {
  if (chunk.kind === 'json') return [];
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
    reply = { id: request.id, ok: true, chunk: output.chunk, meta: output.meta };
    transfer = transferables(output.chunk);
  } catch (error) {
    reply = { id: request.id, ok: false, failure: failureOf(error) };
  }
  parentPort!.postMessage(reply, transfer);
});
