import { performance } from 'node:perf_hooks';
import { SchedulerState, type TaskSubmission } from '../../scheduler/state/scheduler-state.js';
import { BENCH_WORKERS, startBenchCluster } from './cluster.js';
import { type BenchResult, result } from './result.js';

/**
 * Scheduler benchmarks, the workloads Dask is measured on: 100,000 no-op tasks, a sum over
 * 40,000 chunks, a chain of 2,000 dependent tasks; end to end over gRPC with 2 worker
 * processes on loopback, and the state machine alone.
 */

/** Dask's scheduler manages 2–4 thousand tasks/s; the target is ten times its upper figure, rounded down. */
export const TARGET_TASKS_PER_SECOND = 30_000;
/** The state machine alone must leave most of the per-task budget (33 µs at 30k tasks/s) to the network. */
export const TARGET_STATE_MACHINE_US_PER_TASK = 10;
export const NOOP_TASKS = 100_000;
export const SUM_CHUNKS = 40_000;
/** Values per chunk of the array sum: small, so the benchmark measures scheduling, not adding. */
export const SUM_CHUNK_LENGTH = 100;
/** Fan-in of the sum tree. */
export const SUM_FANIN = 8;
export const CHAIN_LENGTH = 2_000;

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

interface Spec {
  key: string;
  op: string;
  args: Uint8Array;
  deps: string[];
  priority: number;
  estBytes: number;
}

function spec(key: string, op: string, deps: string[] = [], args?: unknown, priority = 0): Spec {
  return { key, op, args: args === undefined ? EMPTY : encoder.encode(JSON.stringify(args)), deps, priority, estBytes: 8 };
}

function noopGraph(prefix: string): { tasks: Spec[]; outputs: string[] } {
  const tasks = Array.from({ length: NOOP_TASKS }, (_, i) => spec(`${prefix}-${i}`, 'bench.noop', [], undefined, i));
  return { tasks, outputs: tasks.map((t) => t.key) };
}

function sumGraph(prefix: string): { tasks: Spec[]; outputs: string[] } {
  const tasks: Spec[] = [];
  let level = Array.from({ length: SUM_CHUNKS }, (_, i) => {
    const t = spec(`${prefix}-ones-${i}`, 'bench.ones', [], { length: SUM_CHUNK_LENGTH }, tasks.length);
    tasks.push(t);
    return t.key;
  });
  let depth = 0;
  while (level.length > 1) {
    const next: string[] = [];
    for (let i = 0; i < level.length; i += SUM_FANIN) {
      const t = spec(`${prefix}-sum-${depth}-${i}`, 'bench.sum', level.slice(i, i + SUM_FANIN), undefined, tasks.length);
      tasks.push(t);
      next.push(t.key);
    }
    level = next;
    depth++;
  }
  return { tasks, outputs: level };
}

function chainGraph(prefix: string): { tasks: Spec[]; outputs: string[] } {
  const tasks: Spec[] = [];
  for (let i = 0; i < CHAIN_LENGTH; i++) tasks.push(spec(`${prefix}-${i}`, 'bench.increment', i === 0 ? [] : [`${prefix}-${i - 1}`], undefined, i));
  return { tasks, outputs: [tasks[tasks.length - 1]!.key] };
}

/** The state machine alone: submit, assign and complete every task, no I/O. */
export function benchStateMachine(): BenchResult {
  const state = new SchedulerState();
  for (let w = 0; w < BENCH_WORKERS; w++) state.handleWorkerAdded({ id: `w${w}`, name: `w${w}`, address: `w${w}:1`, threads: 1, memoryLimit: 1e9 }, 0);
  const graph = sumGraph('sm');
  const submissions: TaskSubmission[] = graph.tasks.map((t) => ({ key: t.key, op: t.op, args: t.args, deps: t.deps, priority: t.priority, estBytes: t.estBytes }));
  const started = performance.now();
  state.handleSubmitGraph('bench', submissions, graph.outputs, 0);
  let now = 1;
  for (;;) {
    const outbox = state.takeOutbox();
    if (outbox.assign.size === 0) break;
    for (const [worker, tasks] of outbox.assign) {
      for (const task of tasks) state.handleTaskFinished(worker.id, { key: task.key, nbytes: 8, durationMs: 0.01 }, now);
    }
    now++;
  }
  const micros = ((performance.now() - started) * 1000) / graph.tasks.length;
  if (state.jobs.size !== 0) throw new Error('the state-machine benchmark did not finish its job');
  return result('state machine alone (40k-chunk sum graph)', micros, 'µs/task', TARGET_STATE_MACHINE_US_PER_TASK, false, `${graph.tasks.length} tasks`);
}

/** End to end over gRPC with worker processes: submission until the job's finished event. */
export async function benchScheduler(only: string | undefined = process.env.BENCH_ONLY): Promise<BenchResult[]> {
  // BENCH_ONLY=noop|sum|chain runs one workload (for profiling).
  const wanted = (name: string): boolean => !only || only === name;
  const results: BenchResult[] = wanted('state') ? [benchStateMachine()] : [];
  const cluster = await startBenchCluster({ dataDir: '/tmp' });
  try {
    // Warm up code paths and duration estimates, as a long-lived scheduler would be.
    await cluster.submit('warmup', { tasks: noopGraph('warm').tasks.slice(0, 5000), outputs: noopGraph('warm').outputs.slice(0, 5000) });
    if (wanted('noop')) {
    const noop = noopGraph('noop');
    const noopSeconds = await cluster.submit('noop', noop);
    results.push(result(`${NOOP_TASKS.toLocaleString('en')} no-op tasks, end to end`, noop.tasks.length / noopSeconds, 'tasks/s', TARGET_TASKS_PER_SECOND, true, `${noopSeconds.toFixed(2)} s`));
    }
    if (wanted('sum')) {
    const sum = sumGraph('sum');
    const transfersBefore = cluster.scheduler.state.transfers;
    const sumSeconds = await cluster.submit('sum', sum);
    const transfers = cluster.scheduler.state.transfers - transfersBefore;
    results.push(result(`${SUM_CHUNKS.toLocaleString('en')}-chunk array sum (${sum.tasks.length} tasks)`, sum.tasks.length / sumSeconds, 'tasks/s', TARGET_TASKS_PER_SECOND, true, `${sumSeconds.toFixed(2)} s, ${transfers} inputs fetched from peers`));
    }
    if (wanted('chain')) {
    const chain = chainGraph('chain');
    const chainSeconds = await cluster.submit('chain', chain);
    results.push(result(`chain of ${CHAIN_LENGTH.toLocaleString('en')} dependent tasks`, chain.tasks.length / chainSeconds, 'tasks/s', TARGET_TASKS_PER_SECOND / 10, true, `${((chainSeconds * 1e6) / CHAIN_LENGTH).toFixed(0)} µs per round trip; target: 10x Dask's ~300/s for chains`));
    }
  } finally {
    await cluster.stop();
  }
  return results;
}
