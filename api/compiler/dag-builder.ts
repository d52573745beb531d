import { createHash } from 'node:crypto';
import { OpenEOError } from '../../common/errors.js';
import { encodeTaskArgs } from '../../common/task-args.js';

/**
 * Largest task graph one job may produce. Beyond it the graph is refused as too complex
 * rather than flooding the scheduler (a 10980² tile in 512 blocks over 365 dates is ~180k tasks).
 */
export const MAX_TASKS_PER_JOB = 2_000_000;

export interface CompiledTask {
  key: string;
  op: string;
  args: unknown;
  deps: string[];
  /** Lower runs first: the order the compiler created tasks in, which follows the data. */
  priority: number;
  estBytes: number;
}

/**
 * Collects tasks with deterministic keys (a hash of operation, arguments and input keys):
 * the same computation gets the same key, within a job and across jobs, so it runs once.
 */
export class DagBuilder {
  private readonly tasks = new Map<string, CompiledTask>();
  private readonly outputs: string[] = [];

  add(op: string, args: unknown, deps: string[], estBytes: number): string {
    const hash = createHash('sha256').update(op).update('\0').update(encodeTaskArgs(args)).update('\0').update(deps.join(',')).digest('hex').slice(0, 24);
    const key = `${op}-${hash}`;
    if (!this.tasks.has(key)) {
      if (this.tasks.size >= MAX_TASKS_PER_JOB) {
        throw new OpenEOError('ProcessGraphComplexity', `the process graph needs more than ${MAX_TASKS_PER_JOB} tasks; narrow the spatial or temporal extent`);
      }
      this.tasks.set(key, { key, op, args, deps, priority: this.tasks.size, estBytes });
    }
    return key;
  }

  markOutput(key: string): void {
    if (!this.outputs.includes(key)) this.outputs.push(key);
  }

  get size(): number {
    return this.tasks.size;
  }

  result(): { tasks: CompiledTask[]; outputs: string[] } {
    return { tasks: [...this.tasks.values()], outputs: [...this.outputs] };
  }

  countByOp(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const task of this.tasks.values()) counts[task.op] = (counts[task.op] ?? 0) + 1;
    return counts;
  }
}
