import type { Chunk } from '../common/chunk.js';
import type { TaskFailureReport } from './kernel-errors.js';

export interface ThreadRequest {
  id: number;
  op: string;
  args: unknown;
  inputs: Chunk[];
  context: { key: string; jobId: string; dataDir: string };
  /** Int32Array(1) on shared memory; non-zero asks the kernel to stop. */
  cancelFlag: SharedArrayBuffer;
}

export type ThreadReply =
  | { id: number; ok: true; chunk: Chunk; meta?: unknown }
  | { id: number; ok: false; failure: TaskFailureReport };
