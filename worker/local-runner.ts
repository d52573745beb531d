import type { Chunk } from '../common/chunk.js';
import { TaskError } from '../common/errors.js';
import { kernelFor } from './kernels/registry.js';

export interface LocalTask {
  key: string;
  op: string;
  args: unknown;
  deps: string[];
}

export interface LocalRunResult {
  /** Chunks of the requested outputs. */
  chunks: Map<string, Chunk>;
  /** Sink reports (written files, statistics) by task key. */
  meta: Map<string, unknown>;
}

/**
 * Runs a task graph in this process, in dependency order, releasing each result once its last
 * dependent ran. For small synchronous requests and tests; batch jobs go to the scheduler.
 */
export async function runLocally(tasks: LocalTask[], outputs: string[], dataDir: string, signal: { aborted: boolean } = { aborted: false }): Promise<LocalRunResult> {
  const byKey = new Map(tasks.map((t) => [t.key, t]));
  const remainingUses = new Map<string, number>();
  for (const task of tasks) for (const dep of task.deps) remainingUses.set(dep, (remainingUses.get(dep) ?? 0) + 1);
  const results = new Map<string, Chunk>();
  const meta = new Map<string, unknown>();
  const done = new Set<string>();
  const order: LocalTask[] = [];
  const visit = (task: LocalTask, path: Set<string>): void => {
    if (done.has(task.key)) return;
    if (path.has(task.key)) throw new TaskError('internal', `task graph has a cycle at ${task.key}`);
    path.add(task.key);
    for (const dep of task.deps) {
      const depTask = byKey.get(dep);
      if (!depTask) throw new TaskError('internal', `task ${task.key} depends on unknown ${dep}`);
      visit(depTask, path);
    }
    path.delete(task.key);
    done.add(task.key);
    order.push(task);
  };
  for (const task of tasks) visit(task, new Set());
  for (const task of order) {
    if (signal.aborted) throw new TaskError('canceled', 'canceled');
    const kernel = kernelFor(task.op);
    if (!kernel) throw new TaskError('internal', `no kernel "${task.op}"`);
    const inputs = task.deps.map((d) => results.get(d)!);
    const output = await kernel.run(task.args as never, inputs, { key: task.key, jobId: 'local', dataDir, signal });
    results.set(task.key, output.chunk);
    if (output.meta !== undefined) meta.set(task.key, output.meta);
    for (const dep of task.deps) {
      const uses = remainingUses.get(dep)! - 1;
      remainingUses.set(dep, uses);
      if (uses === 0 && !outputs.includes(dep)) results.delete(dep);
    }
  }
  const chunks = new Map<string, Chunk>();
  for (const key of outputs) {
    const chunk = results.get(key);
    if (chunk) chunks.set(key, chunk);
  }
  return { chunks, meta };
}
