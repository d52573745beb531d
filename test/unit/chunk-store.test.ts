import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ArrayChunk } from '../../common/chunk.js';
import { ChunkStore } from '../../worker/chunk-store.js';
import { tempDir } from '../helpers/processes.js';

function chunk(value: number, length = 1000): ArrayChunk {
  return { kind: 'array', dims: ['y', 'x'], shape: [1, length], data: new Float32Array(length).fill(value), labels: { t: ['2020-01-01'] }, geo: { epsg: 4326, transform: [0, 1, 0, 0, 0, -1] } };
}

describe('ChunkStore', () => {
  it('spills least recently used chunks above the threshold and reads them back intact', async () => {
    const dir = join(tempDir('spill'), 'w');
    const store = new ChunkStore(dir, 10_000); // room for 2.5 chunks of 4000 bytes
    store.put('a', chunk(1));
    store.put('b', chunk(2));
    await store.get('a'); // a is now more recently used than b
    store.put('c', chunk(3));
    await store.spillNow();
    expect(store.bytes).toBeLessThanOrEqual(10_000);
    expect(store.bytesSpilled).toBeGreaterThan(0);
    expect(store.peek('b')).toBeUndefined(); // b was the least recently used
    expect(readdirSync(dir).length).toBeGreaterThan(0);
    const b = (await store.get('b')) as ArrayChunk;
    expect(Array.from(b.data.slice(0, 3))).toEqual([2, 2, 2]);
    expect(b.labels).toEqual({ t: ['2020-01-01'] });
    expect(b.geo?.epsg).toBe(4326);
    expect(store.count).toBe(3);
  });

  it('serves spilled chunks to peers without bringing them back, and deletes dropped ones', async () => {
    const dir = join(tempDir('spill'), 'w');
    const store = new ChunkStore(dir, 5_000);
    store.put('a', chunk(7));
    store.put('b', chunk(8));
    await store.spillNow();
    const spilledKey = store.peek('a') ? 'b' : 'a';
    const forPeer = (await store.getOwned(spilledKey)) as ArrayChunk;
    expect(forPeer.data[0]).toBe(spilledKey === 'a' ? 7 : 8);
    expect(store.peek(spilledKey)).toBeUndefined();
    expect(store.drop(spilledKey)).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(dir)).toHaveLength(0);
    expect(store.owns(spilledKey)).toBe(false);
    store.clear();
    expect(existsSync(dir)).toBe(false);
  });

  it('keeps borrowed inputs until their last user returns them', () => {
    const store = new ChunkStore();
    store.lend('x', chunk(1), 2);
    store.returnBorrowed('x');
    expect(store.peek('x')).toBeTruthy();
    store.returnBorrowed('x');
    expect(store.peek('x')).toBeUndefined();
    expect(store.bytes).toBe(0);
  });
});
