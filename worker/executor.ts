import { performance } from 'node:perf_hooks';
import { type Chunk, chunkBytes } from '../common/chunk.js';
import { TaskError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { decodeTaskArgs } from '../common/task-args.js';
import type { Dependency__Output } from '../proto/generated/openeo/cluster/v1/Dependency.js';
import type { TaskAssignment__Output } from '../proto/generated/openeo/cluster/v1/TaskAssignment.js';
import type { TaskResult } from '../proto/generated/openeo/cluster/v1/TaskResult.js';
import { PriorityHeap } from '../common/priority-heap.js';
import type { ChunkStore } from './chunk-store.js';
import { failureOf, type TaskFailureReport } from './kernel-errors.js';
import type { KernelContext, KernelDefinition, KernelOutput } from './kernels/kernel.js';
import { kernelFor } from './kernels/registry.js';
import type { PeerFetcher } from './peer-fetch.js';
import type { ThreadOutcome, ThreadPool } from './thread-pool.js';

type LocalState = 'fetching' | 'ready' | 'running';

interface LocalTask {
  key: string;
  op: string;
  rawArgs: Uint8Array;
  jobId: string;
  priority: number;
  deps: Dependency__Output[];
  state: LocalState;
  canceled: boolean;
  /** Inputs fetched from peers for this task, returned to the store when it ends. */
  borrowed: string[];
  runId: number | null;
  abort: { aborted: boolean };
}

export interface ExecutorOptions {
  dataDir: string;
  logger: Logger;
  /** Called with each finished or failed task; the caller batches them to the scheduler. */
  report: (result: TaskResult) => void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Runs the tasks the scheduler assigns to this worker: fetches missing inputs from peers, runs
 * kernels (inline or on the thread pool) in priority order, stores results and reports them.
 */
export class Executor {
  private readonly tasks = new Map<string, LocalTask>();
  private readonly ready = new PriorityHeap<LocalTask>();
  private readonly fetches = new Map<string, Promise<Chunk>>();
  private runningOnThreads = 0;
  private generation = 0;

  constructor(
    private readonly store: ChunkStore,
    private readonly pool: ThreadPool,
    private readonly fetcher: PeerFetcher,
    private readonly options: ExecutorOptions,
  ) {}

  get executing(): number {
    let n = 0;
    for (const task of this.tasks.values()) if (task.state === 'running') n++;
    return n;
  }

  get readyCount(): number {
    return this.ready.size;
  }

  get taskCount(): number {
    return this.tasks.size;
  }

  assign(assignments: TaskAssignment__Output[]): void {
    for (const a of assignments) {
      if (this.tasks.has(a.key)) continue;
      const task: LocalTask = {
        key: a.key,
        op: a.op,
        rawArgs: a.args,
        jobId: a.jobId,
        priority: a.priority,
        deps: a.deps,
        state: 'fetching',
        canceled: false,
        borrowed: [],
        runId: null,
        abort: { aborted: false },
      };
      this.tasks.set(task.key, task);
      const missing = task.deps.filter((d) => !this.store.has(d.key));
      if (missing.length === 0) this.makeReady(task);
      else void this.fetchInputs(task, missing);
    }
    this.pump();
  }

  /** Stops tasks (job canceled, or their inputs were lost); they are not reported. */
  cancel(keys: string[]): void {
    for (const key of keys) {
      const task = this.tasks.get(key);
      if (!task) continue;
      task.canceled = true;
      task.abort.aborted = true;
      if (task.state === 'ready') {
        this.ready.remove(task);
        this.end(task);
      } else if (task.state === 'running' && task.runId !== null) {
        this.pool.cancel(task.runId);
      }
      // The key is free at once: a new assignment of it (a restarted job) must not wait for,
      // or be swallowed by, the canceled run, whose outcome is ignored when it ends.
      if (this.tasks.get(key) === task) this.tasks.delete(key);
    }
  }

  /** Drops results nobody needs any more. */
  release(keys: string[]): void {
    for (const key of keys) this.store.drop(key);
  }

  /** Forgets everything (the scheduler session was lost; a new one starts from scratch). */
  reset(): void {
    this.generation++;
    for (const task of this.tasks.values()) {
      task.canceled = true;
      task.abort.aborted = true;
      if (task.runId !== null) this.pool.cancel(task.runId);
    }
    this.tasks.clear();
    this.ready.removeWhere(() => true);
    this.fetches.clear();
    this.store.clear();
  }

  /** Tasks not started yet, handed back on retire or steal. */
  takeBackUnstarted(keys?: string[]): string[] {
    const taken: string[] = [];
    for (const task of [...this.tasks.values()]) {
      if (keys && !keys.includes(task.key)) continue;
      if (task.state === 'running') continue;
      if (task.state === 'ready') this.ready.remove(task);
      task.canceled = true;
      this.end(task);
      taken.push(task.key);
    }
    return taken;
  }

  // ---------------------------------------------------------------- internals

  private async fetchInputs(task: LocalTask, missing: Dependency__Output[]): Promise<void> {
    const generation = this.generation;
    try {
      const byHolder = new Map<string, string[]>();
      const waits: Promise<unknown>[] = [];
      for (const dep of missing) {
        const inFlight = this.fetches.get(dep.key);
        if (inFlight) {
          waits.push(inFlight.then((chunk) => this.borrow(task, dep.key, chunk)));
          continue;
        }
        if (dep.holders.length === 0) throw new TaskError('transient', `no worker holds input ${dep.key}`);
        // Spread load over holders when several have a copy.
        const holder = dep.holders[Math.floor(Math.random() * dep.holders.length)]!;
        const list = byHolder.get(holder) ?? [];
        list.push(dep.key);
        byHolder.set(holder, list);
      }
      for (const [holder, keys] of byHolder) {
        const batch = this.fetcher.fetch(holder, keys);
        for (const key of keys) {
          const one = batch.then((chunks) => chunks.get(key)!);
          one.catch(() => undefined);
          this.fetches.set(key, one);
          waits.push(one.then((chunk) => this.borrow(task, key, chunk)));
        }
        void batch.finally(() => {
          for (const key of keys) this.fetches.delete(key);
        }).catch(() => undefined);
      }
      await Promise.all(waits);
      if (generation !== this.generation) return;
      if (task.canceled) {
        this.end(task);
        return;
      }
      this.makeReady(task);
      this.pump();
    } catch (error) {
      if (generation !== this.generation) return;
      if (task.canceled) {
        this.end(task);
        return;
      }
      this.fail(task, failureOf(error), 0);
    }
  }

  private borrow(task: LocalTask, key: string, chunk: Chunk): void {
    this.store.lend(key, chunk, 1);
    task.borrowed.push(key);
  }

  private makeReady(task: LocalTask): void {
    task.state = 'ready';
    this.ready.push(task);
  }

  private pump(): void {
    while (this.ready.size > 0) {
      const task = this.ready.peek()!;
      const kernel = kernelFor(task.op);
      if (!kernel) {
        this.ready.pop();
        this.fail(task, { kind: 'internal', message: `this worker has no kernel "${task.op}"`, code: 'Internal' }, 0);
        continue;
      }
      if (kernel.placement === 'thread' && this.runningOnThreads >= this.pool.size) return;
      this.ready.pop();
      task.state = 'running';
      if (kernel.placement === 'thread') this.runningOnThreads++;
      // Inputs in memory are used at once (the common, fast path); spilled ones are read back first.
      const inputs = this.inputsInMemory(task);
      if (inputs) this.run(task, kernel, inputs);
      else {
        const generation = this.generation;
        void this.loadInputs(task).then(
          (loaded) => generation === this.generation && this.run(task, kernel, loaded),
          (error: unknown) => {
            if (generation !== this.generation) return;
            if (kernel.placement === 'thread') this.runningOnThreads--;
            this.fail(task, failureOf(error), 0);
            this.pump();
          },
        );
      }
    }
  }

  private inputsInMemory(task: LocalTask): Chunk[] | null {
    const inputs: Chunk[] = [];
    for (const dep of task.deps) {
      const chunk = this.store.peek(dep.key);
      if (!chunk) return null;
      inputs.push(chunk);
    }
    return inputs;
  }

  private async loadInputs(task: LocalTask): Promise<Chunk[]> {
    return Promise.all(
      task.deps.map(async (dep) => {
        const chunk = await this.store.get(dep.key);
        if (!chunk) throw new TaskError('transient', `input ${dep.key} disappeared before the task ran`);
        return chunk;
      }),
    );
  }

  private parseArgs(task: LocalTask): unknown {
    return decodeTaskArgs(decoder.decode(task.rawArgs));
  }

  private run(task: LocalTask, kernel: KernelDefinition, inputs: Chunk[]): void {
    if (kernel.placement === 'inline') this.runInline(task, kernel.run, inputs);
    else this.runOnThread(task, inputs);
  }

  private runInline(task: LocalTask, run: KernelDefinition['run'], inputs: Chunk[]): void {
    const started = performance.now();
    let output: KernelOutput | Promise<KernelOutput>;
    try {
      output = run(this.parseArgs(task) as never, inputs, this.contextOf(task));
    } catch (error) {
      this.fail(task, failureOf(error), performance.now() - started);
      return;
    }
    if (output instanceof Promise) {
      const generation = this.generation;
      output.then(
        (value) => generation === this.generation && this.succeed(task, value, performance.now() - started),
        (error: unknown) => generation === this.generation && this.fail(task, failureOf(error), performance.now() - started),
      );
    } else {
      this.succeed(task, output, performance.now() - started);
    }
  }

  private runOnThread(task: LocalTask, inputs: Chunk[]): void {
    const started = performance.now();
    const generation = this.generation;
    let args: unknown;
    try {
      args = this.parseArgs(task);
    } catch (error) {
      this.runningOnThreads--;
      this.fail(task, failureOf(error), 0);
      return;
    }
    const { id, done } = this.pool.run(task.op, args, inputs, { key: task.key, jobId: task.jobId, dataDir: this.options.dataDir });
    task.runId = id;
    void done.then((outcome: ThreadOutcome) => {
      this.runningOnThreads--;
      if (generation !== this.generation) return;
      const duration = performance.now() - started;
      if (outcome.ok) this.succeed(task, { chunk: outcome.chunk, meta: outcome.meta }, duration);
      else this.fail(task, outcome.failure, duration);
      this.pump();
    });
  }

  private contextOf(task: LocalTask): KernelContext {
    return { key: task.key, jobId: task.jobId, dataDir: this.options.dataDir, signal: task.abort };
  }

  private succeed(task: LocalTask, output: KernelOutput, durationMs: number): void {
    if (task.canceled) {
      this.end(task);
      return;
    }
    this.store.put(task.key, output.chunk);
    this.end(task);
    this.options.report({
      key: task.key,
      ok: true,
      nbytes: chunkBytes(output.chunk),
      durationMs,
      meta: output.meta === undefined ? new Uint8Array(0) : encoder.encode(JSON.stringify(output.meta)),
    });
  }

  private fail(task: LocalTask, failure: TaskFailureReport, durationMs: number): void {
    this.end(task);
    if (task.canceled) return;
    if (failure.kind === 'internal') this.options.logger.error({ key: task.key, op: task.op, error: failure.message }, 'task failed');
    this.options.report({
      key: task.key,
      ok: false,
      durationMs,
      errorKind: failure.kind,
      errorMessage: failure.message,
      errorCode: failure.code,
    });
  }

  private end(task: LocalTask): void {
    if (this.tasks.get(task.key) === task) this.tasks.delete(task.key);
    for (const key of task.borrowed) this.store.returnBorrowed(key);
    task.borrowed = [];
  }
}
