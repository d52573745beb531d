/** Anything ordered by a numeric priority, lower first. */
export interface Prioritized {
  priority: number;
}

/** A binary min-heap by `priority` (lower first); ready tasks on the scheduler and on workers. */
export class PriorityHeap<T extends Prioritized> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(task: T): void {
    const items = this.items;
    items.push(task);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.priority <= task.priority) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = task;
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) this.siftDown(0, last);
    return top;
  }

  /** Removes `task` if present (O(n)); used by cancel and steal, which are rare. */
  remove(task: T): boolean {
    const items = this.items;
    const i = items.indexOf(task);
    if (i < 0) return false;
    const last = items.pop()!;
    if (i < items.length) {
      this.siftDown(i, last);
      this.siftUp(i);
    }
    return true;
  }

  /** Removes every task matching `predicate`; O(n). */
  removeWhere(predicate: (task: T) => boolean): T[] {
    const kept: T[] = [];
    const removed: T[] = [];
    for (const task of this.items) (predicate(task) ? removed : kept).push(task);
    if (removed.length === 0) return removed;
    this.items.length = 0;
    for (const task of kept) this.push(task);
    return removed;
  }

  toArray(): readonly T[] {
    return this.items;
  }

  private siftDown(start: number, task: T): void {
    const items = this.items;
    const n = items.length;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && items[right]!.priority < items[left]!.priority ? right : left;
      if (items[child]!.priority >= task.priority) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = task;
  }

  private siftUp(start: number): void {
    const items = this.items;
    const task = items[start]!;
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.priority <= task.priority) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = task;
  }
}
