import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Chunk, chunkBytes, chunkFromParts, type ChunkHeader, chunkHeader, chunkPayload } from '../common/chunk.js';

/**
 * When spilling, memory is freed down to this share of the spill threshold, so one spill makes
 * room for several results instead of running again on the next put (Dask spills to its 60 %
 * "target" above a 70 % trigger).
 */
export const SPILL_TARGET_RATIO = 0.85;

interface Spilled {
  path: string;
  bytes: number;
}

/**
 * The chunks a worker holds: results it computed or copied (owned: the scheduler knows the
 * worker has them) and inputs fetched from peers for its own tasks (borrowed, dropped when those
 * tasks end). Owned chunks beyond the spill threshold move to disk, least recently used first,
 * and come back on the next use.
 */
export class ChunkStore {
  /** In memory, least recently used first (Map iteration order). */
  private readonly owned = new Map<string, Chunk>();
  private readonly spilled = new Map<string, Spilled>();
  private readonly borrowed = new Map<string, { chunk: Chunk; users: number }>();
  private readonly loading = new Map<string, Promise<Chunk | undefined>>();
  private ownedBytes = 0;
  private borrowedBytes = 0;
  private spilledBytes = 0;
  private spilling: Promise<void> | null = null;

  /**
   * @param spillDir where spilled chunks go (created on first spill; removed by `clear`)
   * @param spillThreshold bytes in memory above which owned chunks spill; Infinity disables spilling
   */
  constructor(
    private readonly spillDir: string | null = null,
    private spillThreshold = Infinity,
  ) {}

  setSpillThreshold(bytes: number): void {
    this.spillThreshold = bytes;
  }

  /** The chunk if it is in memory right now. */
  peek(key: string): Chunk | undefined {
    return this.owned.get(key) ?? this.borrowed.get(key)?.chunk;
  }

  /** The chunk, read back from disk if it was spilled; undefined if this worker does not hold it. */
  async get(key: string): Promise<Chunk | undefined> {
    const inMemory = this.owned.get(key);
    if (inMemory) {
      // Touch: most recently used goes last.
      this.owned.delete(key);
      this.owned.set(key, inMemory);
      return inMemory;
    }
    const lent = this.borrowed.get(key);
    if (lent) return lent.chunk;
    if (!this.spilled.has(key)) return undefined;
    let pending = this.loading.get(key);
    if (!pending) {
      pending = this.unspill(key).finally(() => this.loading.delete(key));
      this.loading.set(key, pending);
    }
    return pending;
  }

  has(key: string): boolean {
    return this.owned.has(key) || this.spilled.has(key) || this.borrowed.has(key);
  }

  /** Whether this worker holds the chunk as its own (what peers may fetch). */
  owns(key: string): boolean {
    return this.owned.has(key) || this.spilled.has(key);
  }

  /** An owned chunk for a peer; read from disk without bringing it back into memory. */
  async getOwned(key: string): Promise<Chunk | undefined> {
    const inMemory = this.owned.get(key);
    if (inMemory) return inMemory;
    const spilled = this.spilled.get(key);
    return spilled ? readSpilled(spilled.path) : undefined;
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
    this.maybeSpill();
  }

  /** Drops an owned chunk (the scheduler released it), from memory or disk. */
  drop(key: string): boolean {
    const chunk = this.owned.get(key);
    if (chunk) {
      this.owned.delete(key);
      this.ownedBytes -= chunkBytes(chunk);
      return true;
    }
    const spilled = this.spilled.get(key);
    if (spilled) {
      this.spilled.delete(key);
      this.spilledBytes -= spilled.bytes;
      void unlink(spilled.path).catch(() => undefined);
      return true;
    }
    return false;
  }

  /** Keeps a fetched input for `users` local tasks. */
  lend(key: string, chunk: Chunk, users: number): void {
    if (this.owns(key)) return;
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
    this.spilled.clear();
    this.ownedBytes = 0;
    this.borrowedBytes = 0;
    this.spilledBytes = 0;
    if (this.spillDir) rmSync(this.spillDir, { recursive: true, force: true });
  }

  /** Bytes of chunks in memory. */
  get bytes(): number {
    return this.ownedBytes + this.borrowedBytes;
  }

  get bytesSpilled(): number {
    return this.spilledBytes;
  }

  /** Owned chunks, in memory or on disk. */
  get count(): number {
    return this.owned.size + this.spilled.size;
  }

  ownedKeys(): string[] {
    return [...this.owned.keys(), ...this.spilled.keys()];
  }

  /** Spills until memory is below the target; resolves when done (also when nothing to do). */
  spillNow(threshold = this.spillThreshold): Promise<void> {
    if (this.spilling) return this.spilling;
    if (!this.spillDir || this.bytes <= threshold) return Promise.resolve();
    this.spilling = this.spillDown(threshold * SPILL_TARGET_RATIO).finally(() => {
      this.spilling = null;
    });
    return this.spilling;
  }

  private maybeSpill(): void {
    if (this.bytes > this.spillThreshold) void this.spillNow();
  }

  private async spillDown(target: number): Promise<void> {
    mkdirSync(this.spillDir!, { recursive: true });
    for (const [key, chunk] of this.owned) {
      if (this.bytes <= target) break;
      if (chunk.kind === 'json') continue;
      const path = join(this.spillDir!, createHash('sha1').update(key).digest('hex'));
      const header = Buffer.from(JSON.stringify(chunkHeader(chunk)));
      const length = Buffer.alloc(4);
      length.writeUInt32LE(header.length, 0);
      await writeFile(path, Buffer.concat([length, header, chunkPayload(chunk)]));
      // It may have been dropped or replaced while we wrote.
      if (this.owned.get(key) !== chunk) {
        await unlink(path).catch(() => undefined);
        continue;
      }
      const bytes = chunkBytes(chunk);
      this.owned.delete(key);
      this.ownedBytes -= bytes;
      this.spilled.set(key, { path, bytes });
      this.spilledBytes += bytes;
    }
  }

  private async unspill(key: string): Promise<Chunk | undefined> {
    const entry = this.spilled.get(key);
    if (!entry) return this.owned.get(key);
    const chunk = await readSpilled(entry.path);
    if (this.spilled.get(key) !== entry) return this.owned.get(key) ?? chunk;
    this.spilled.delete(key);
    this.spilledBytes -= entry.bytes;
    void unlink(entry.path).catch(() => undefined);
    this.owned.set(key, chunk);
    this.ownedBytes += chunkBytes(chunk);
    this.maybeSpill();
    return chunk;
  }
}

async function readSpilled(path: string): Promise<Chunk> {
  const data = await readFile(path);
  const headerLength = data.readUInt32LE(0);
  const header = JSON.parse(data.subarray(4, 4 + headerLength).toString()) as ChunkHeader;
  // A fresh, aligned copy of the payload for typed-array views.
  return chunkFromParts(header, new Uint8Array(data.subarray(4 + headerLength)));
}
