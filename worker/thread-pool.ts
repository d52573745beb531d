import { Worker } from 'node:worker_threads';
import type { Chunk } from '../common/chunk.js';
import type { TaskFailureReport } from './kernel-errors.js';
import type { ThreadReply, ThreadRequest } from './thread-messages.js';

/**
 * How long a canceled kernel may keep running before its thread is terminated (ms). Kernels
 * check for cancellation between blocks; this bounds the ones stuck in one long call.
 */
export const CANCEL_GRACE_MS = 300;

export type ThreadOutcome = { ok: true; chunk: Chunk; meta?: unknown } | { ok: false; failure: TaskFailureReport };

interface Running {
  request: ThreadRequest;
  resolve: (outcome: ThreadOutcome) => void;
  thread: PoolThread;
  killTimer?: NodeJS.Timeout;
}

interface PoolThread {
  worker: Worker;
  busy: Running | null;
}

/** A fixed set of kernel threads; callers limit concurrency to its size. */
export class ThreadPool {
  private readonly threads: PoolThread[] = [];
  private readonly waiting: Running[] = [];
  private readonly running = new Map<number, Running>();
  private nextId = 1;
  private closed = false;

  constructor(
    readonly size: number,
    private readonly entry: URL = new URL('./kernel-thread.js', import.meta.url),
  ) {
    for (let i = 0; i < size; i++) this.threads.push(this.spawn());
  }

  /** Runs a kernel on a free thread; resolves with its chunk or its classified failure. Returns the run id for cancel. */
  run(op: string, args: unknown, inputs: Chunk[], context: ThreadRequest['context']): { id: number; done: Promise<ThreadOutcome> } {
    const id = this.nextId++;
    const request: ThreadRequest = { id, op, args, inputs, context, cancelFlag: new SharedArrayBuffer(4) };
    let resolve!: (outcome: ThreadOutcome) => void;
    const done = new Promise<ThreadOutcome>((r) => (resolve = r));
    const entry: Running = { request, resolve, thread: null as unknown as PoolThread };
    this.waiting.push(entry);
    this.dispatch();
    return { id, done };
  }

  /** Asks a run to stop; terminates its thread if it does not within CANCEL_GRACE_MS. */
  cancel(id: number): void {
    const queued = this.waiting.findIndex((r) => r.request.id === id);
    if (queued >= 0) {
      const [entry] = this.waiting.splice(queued, 1);
      entry!.resolve({ ok: false, failure: { kind: 'canceled', message: 'canceled', code: 'Internal' } });
      return;
    }
    const entry = this.running.get(id);
    if (!entry || entry.killTimer) return;
    Atomics.store(new Int32Array(entry.request.cancelFlag), 0, 1);
    entry.killTimer = setTimeout(() => {
      if (this.running.get(id) !== entry) return;
      this.finish(entry, { ok: false, failure: { kind: 'canceled', message: 'canceled (thread stopped)', code: 'Internal' } });
      this.replace(entry.thread);
    }, CANCEL_GRACE_MS);
  }

  get busyCount(): number {
    return this.running.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }

  private spawn(): PoolThread {
    // An empty workerData: geotiff's `web-worker` dependency reads it on import in any non-main thread.
    const thread: PoolThread = { worker: new Worker(this.entry, { workerData: {} }), busy: null };
    thread.worker.on('message', (reply: ThreadReply) => {
      const entry = this.running.get(reply.id);
      if (!entry) return;
      this.finish(entry, reply.ok ? { ok: true, chunk: reply.chunk, meta: reply.meta } : { ok: false, failure: reply.failure });
    });
    thread.worker.on('error', (error) => {
      const entry = thread.busy;
      if (entry) {
        const oom = /memory/i.test(error.message);
        this.finish(entry, { ok: false, failure: { kind: oom ? 'out-of-memory' : 'internal', message: `kernel thread crashed: ${error.message}`, code: 'Internal' } });
      }
      this.replace(thread);
    });
    thread.worker.unref();
    return thread;
  }

  private replace(thread: PoolThread): void {
    const i = this.threads.indexOf(thread);
    if (i < 0) return;
    thread.busy = null;
    void thread.worker.terminate();
    if (this.closed) return;
    this.threads[i] = this.spawn();
    this.dispatch();
  }

  private finish(entry: Running, outcome: ThreadOutcome): void {
    this.running.delete(entry.request.id);
    if (entry.killTimer) clearTimeout(entry.killTimer);
    if (entry.thread.busy === entry) entry.thread.busy = null;
    entry.resolve(outcome);
    this.dispatch();
  }

  private dispatch(): void {
    for (const thread of this.threads) {
      if (thread.busy || this.waiting.length === 0) continue;
      const entry = this.waiting.shift()!;
      entry.thread = thread;
      thread.busy = entry;
      this.running.set(entry.request.id, entry);
      thread.worker.postMessage(entry.request);
    }
  }
}
