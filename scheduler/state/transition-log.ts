import type { TaskStateName } from './types.js';

/** Transitions remembered for debugging: enough to see how the last few hundred tasks moved. */
export const DEFAULT_TRANSITION_LOG_SIZE = 10_000;

export interface Transition {
  key: string;
  from: TaskStateName;
  to: TaskStateName;
  /** What caused it, e.g. `task-finished:w1`, `worker-lost:w2`, `submit:job-1`. */
  stimulus: string;
  /** Monotonic time (ms). */
  at: number;
}

/** A ring buffer of the latest transitions; old entries are overwritten, so memory stays bounded. */
export class TransitionLog {
  private readonly entries: (Transition | undefined)[];
  private next = 0;
  private total = 0;

  constructor(readonly capacity: number = DEFAULT_TRANSITION_LOG_SIZE) {
    this.entries = new Array(capacity);
  }

  add(key: string, from: TaskStateName, to: TaskStateName, stimulus: string, at: number): void {
    const slot = this.entries[this.next];
    if (slot) {
      slot.key = key; slot.from = from; slot.to = to; slot.stimulus = stimulus; slot.at = at;
    } else {
      this.entries[this.next] = { key, from, to, stimulus, at };
    }
    this.next = (this.next + 1) % this.capacity;
    this.total++;
  }

  /** Transitions in the order they happened, oldest first. */
  recent(): Transition[] {
    const out: Transition[] = [];
    const count = Math.min(this.total, this.capacity);
    const start = this.total > this.capacity ? this.next : 0;
    for (let i = 0; i < count; i++) {
      const entry = this.entries[(start + i) % this.capacity];
      if (entry) out.push({ ...entry });
    }
    return out;
  }

  /** Transitions of one task still in the log. */
  story(key: string): Transition[] {
    return this.recent().filter((t) => t.key === key);
  }

  get size(): number {
    return this.total;
  }
}
