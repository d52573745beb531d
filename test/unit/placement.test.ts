import { describe, expect, it } from 'vitest';
import { chooseWorker, DEFAULT_BANDWIDTH_BYTES_PER_MS, FETCH_LATENCY_MS, missingBytes, startTimeMs } from '../../scheduler/state/placement.js';
import type { TaskState, WorkerState } from '../../scheduler/state/types.js';

function worker(id: string, threads: number, occupancyMs: number, nbytes = 0): WorkerState {
  return {
    id, name: id, address: `${id}:1`, threads, memoryLimit: 1e9, status: 'running', processing: new Set(), hasWhat: new Set(),
    occupancyMs, nbytes, lastSeen: 0, memory: { processBytes: 0, managedBytes: 0, spilledBytes: 0 }, executedCount: 0, incomingSteals: 0, retiringSince: 0,
  };
}

function task(deps: { nbytes: number; on: WorkerState[] }[]): TaskState {
  const dependencies = deps.map((d, i) => ({ key: `dep${i}`, nbytes: d.nbytes, whoHas: new Set(d.on) }) as unknown as TaskState);
  return { key: 't', dependencies } as unknown as TaskState;
}

describe('placement: start time = queued work / threads + missing bytes / bandwidth', () => {
  it('counts only the inputs a worker lacks', () => {
    const a = worker('a', 1, 0);
    const b = worker('b', 1, 0);
    const t = task([{ nbytes: 1000, on: [a] }, { nbytes: 500, on: [a, b] }, { nbytes: 200, on: [b] }]);
    expect(missingBytes(t, a)).toBe(200);
    expect(missingBytes(t, b)).toBe(1000);
  });

  it('divides queued work by threads and adds transfer time', () => {
    const w = worker('w', 4, 2000);
    const t = task([{ nbytes: 100e6, on: [] }]);
    expect(startTimeMs(t, w, DEFAULT_BANDWIDTH_BYTES_PER_MS)).toBeCloseTo(2000 / 4 + 100e6 / DEFAULT_BANDWIDTH_BYTES_PER_MS + FETCH_LATENCY_MS);
    const local = task([{ nbytes: 100e6, on: [w] }]);
    expect(startTimeMs(local, w, DEFAULT_BANDWIDTH_BYTES_PER_MS)).toBe(2000 / 4);
  });

  it('prefers the holder of large inputs over an idle worker', () => {
    const holder = worker('holder', 1, 100);
    const idle = worker('idle', 1, 0);
    const t = task([{ nbytes: 500e6, on: [holder] }]);
    expect(chooseWorker(t, [idle, holder])).toBe(holder);
  });

  it('keeps small inputs local unless the holder is busier than a fetch round trip', () => {
    const holder = worker('holder', 1, 0.5);
    const idle = worker('idle', 1, 0);
    expect(chooseWorker(task([{ nbytes: 800, on: [holder] }]), [idle, holder])).toBe(holder);
  });

  it('prefers an idle worker when the holder is busy for longer than the transfer takes', () => {
    const holder = worker('holder', 1, 60_000);
    const idle = worker('idle', 1, 0);
    const t = task([{ nbytes: 1e6, on: [holder] }]);
    expect(chooseWorker(t, [holder, idle])).toBe(idle);
  });

  it('breaks ties by the bytes a worker already holds', () => {
    const full = worker('full', 1, 0, 5e9);
    const empty = worker('empty', 1, 0, 1e3);
    expect(chooseWorker(task([]), [full, empty])).toBe(empty);
    expect(chooseWorker(task([]), [empty, full])).toBe(empty);
  });

  it('never picks a paused or retiring worker, and returns null without candidates', () => {
    const paused = { ...worker('p', 8, 0), status: 'paused' as const };
    const retiring = { ...worker('r', 8, 0), status: 'retiring' as const };
    expect(chooseWorker(task([]), [paused, retiring])).toBeNull();
    expect(chooseWorker(task([]), [])).toBeNull();
  });
});
