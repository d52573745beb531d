/**
 * Run time assumed for an operation never seen before: 500 ms, Dask's
 * `distributed.scheduler.unknown-task-duration`. High enough that an unknown kernel is
 * not flooded onto one worker before its first completion teaches us better.
 */
export const UNKNOWN_TASK_DURATION_MS = 500;

/** Weight of the newest sample in the moving average; Dask uses 0.5 for its task-group durations. */
export const DURATION_SMOOTHING = 0.5;

/** Exponentially weighted moving averages of run time and output size per operation. */
export class DurationEstimates {
  private readonly durationMs = new Map<string, number>();
  private readonly outputBytes = new Map<string, number>();

  durationOf(op: string): number {
    return this.durationMs.get(op) ?? UNKNOWN_TASK_DURATION_MS;
  }

  /** Average result size of `op`, or undefined before its first completion. */
  outputBytesOf(op: string): number | undefined {
    return this.outputBytes.get(op);
  }

  record(op: string, durationMs: number, nbytes: number): void {
    const previous = this.durationMs.get(op);
    this.durationMs.set(op, previous === undefined ? durationMs : previous + DURATION_SMOOTHING * (durationMs - previous));
    const previousBytes = this.outputBytes.get(op);
    this.outputBytes.set(op, previousBytes === undefined ? nbytes : previousBytes + DURATION_SMOOTHING * (nbytes - previousBytes));
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.durationMs);
  }
}
