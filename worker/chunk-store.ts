import { type Chunk, chunkBytes } from '../common/chunk.js';

/**
 * The chunks a worker holds: results it computed (owned, the scheduler knows about them) and
 * inputs it fetched from peers for its own tasks (borrowed, dropped when those tasks are done).
 */
export class ChunkStore {
  private readonly owned = new Map<string, Chunk>();
  private readonly borrowed = new Map<string, { chunk: Chunk; users: number }>();
  private ownedBytes = 0;
  private borrowedBytes = 0;

  get(key: string): Chunk | undefined {
    return this.owned.get(key) ?? this.borrowed.get(key)?.chunk;
  }

  has(key: string): boolean {
    return this.owned.has(key) || this.borrowed.has(key);
  }

  /** Whether this worker holds the chunk as its own result (what peers may fetch). */
  owns(key: string): boolean {
    return this.owned.has(key);
  }

  getOwned(key: string): Chunk | undefined {
    return this.owned.get(key);
  }

  put(key: string, chunk: Chunk): void {
    this.drop(key);
    this.owned.set(key, chunk);
    this.ownedBytes += chunkBytes(chunk);
    const borrowed = this.borrowed.get(key);
    if (borrowed) {
      this.borrowed.delete(key);
      this.borrowedBytes -= chunkBytes(borrowed.chunk);
    }
  }

  /** Drops an owned chunk (the scheduler released it). */
  drop(key: string): boolean {
    const chunk = this.owned.get(key);
    if (!chunk) return false;
    this.owned.delete(key);
    this.ownedBytes -= chunkBytes(chunk);
    return true;
  }

  /** Keeps a fetched input for `users` local tasks. */
  lend(key: string, chunk: Chunk, users: number): void {
    if (this.owned.has(key)) return;
    const existing = this.borrowed.get(key);
    if (existing) {
      existing.users += users;
      return;
    }
    this.borrowed.set(key, { chunk, users });
    this.borrowedBytes += chunkBytes(chunk);
  }

  /** One local task no longer needs a fetched input. */
  returnBorrowed(key: string): void {
    const entry = this.borrowed.get(key);
    if (!entry) return;
    entry.users--;
    if (entry.users <= 0) {
      this.borrowed.delete(key);
      this.borrowedBytes -= chunkBytes(entry.chunk);
    }
  }

  clear(): void {
    this.owned.clear();
    this.borrowed.clear();
    this.ownedBytes = 0;
    this.borrowedBytes = 0;
  }

  get bytes(): number {
    return this.ownedBytes + this.borrowedBytes;
  }

  get count(): number {
    return this.owned.size;
  }

  ownedKeys(): IterableIterator<string> {
    return this.owned.keys();
  }
}
