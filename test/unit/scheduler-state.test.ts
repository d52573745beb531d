import { describe, expect, it } from 'vitest';
import {
  RETIRE_COPY_TIMEOUT_MS,
  MAX_TRANSIENT_RETRIES,
  MAX_WORKER_DEATHS_PER_TASK,
  SchedulerState,
  type TaskSubmission,
} from '../../scheduler/state/scheduler-state.js';
import type { Outbox, WorkerState } from '../../scheduler/state/types.js';

const NO_ARGS = new Uint8Array();

function task(key: string, deps: string[] = [], op = 'op', estBytes = 1000): TaskSubmission {
  return { key, op, args: NO_ARGS, deps, estBytes };
}

function addWorker(state: SchedulerState, id: string, threads = 1): WorkerState {
  return state.handleWorkerAdded({ id, name: id, address: `${id}:1`, threads, memoryLimit: 1e9 }, 0);
}

function assignedKeys(outbox: Outbox, worker: WorkerState): string[] {
  return (outbox.assign.get(worker) ?? []).map((t) => t.key);
}

/** Runs every assigned task to completion until the graph is done; returns who ran what. */
function drain(state: SchedulerState, nbytes = 100, durationMs = 100): Map<string, string> {
  const ranOn = new Map<string, string>();
  let now = 1;
  for (let round = 0; round < 100_000; round++) {
    const outbox = state.takeOutbox();
    const work: [WorkerState, string][] = [];
    for (const [worker, tasks] of outbox.assign) for (const t of tasks) work.push([worker, t.key]);
    if (work.length === 0) return ranOn;
    for (const [worker, key] of work) {
      const t = state.tasks.get(key);
      if (t?.state !== 'processing' || t.processingOn !== worker) continue;
      ranOn.set(key, worker.id);
      state.handleTaskFinished(worker.id, { key, nbytes, durationMs }, now++);
    }
  }
  throw new Error('did not converge');
}

describe('SchedulerState', () => {
  it('runs a diamond in dependency order and finishes the job with its outputs', () => {
    const state = new SchedulerState({ validate: true });
    const w = addWorker(state, 'w1', 2);
    state.handleSubmitGraph('job', [task('a'), task('b', ['a']), task('c', ['a']), task('d', ['b', 'c'])], ['d'], 0);
    let outbox = state.takeOutbox();
    expect(assignedKeys(outbox, w)).toEqual(['a']);
    state.handleTaskFinished('w1', { key: 'a', nbytes: 10, durationMs: 5 }, 1);
    outbox = state.takeOutbox();
    expect(assignedKeys(outbox, w).sort()).toEqual(['b', 'c']);
    state.handleTaskFinished('w1', { key: 'b', nbytes: 10, durationMs: 5 }, 2);
    expect(state.tasks.get('a')!.state).toBe('memory'); // c still needs it
    state.handleTaskFinished('w1', { key: 'c', nbytes: 10, durationMs: 5 }, 3);
    outbox = state.takeOutbox();
    expect(outbox.release.get(w)).toEqual(['a']);
    expect(assignedKeys(outbox, w)).toEqual(['d']);
    state.handleTaskFinished('w1', { key: 'd', nbytes: 10, durationMs: 5, meta: new TextEncoder().encode('{"file":"x"}') }, 4);
    outbox = state.takeOutbox();
    const finished = outbox.jobEvents.find((e) => e.kind === 'status');
    expect(finished).toMatchObject({ kind: 'status', jobId: 'job', status: 'finished', done: 4, total: 4 });
    expect(state.tasks.size).toBe(0);
    expect(state.jobs.size).toBe(0);
    expect(outbox.release.get(w)).toEqual(['b', 'c', 'd']);
  });

  it('reports progress as finished tasks over all tasks', () => {
    const state = new SchedulerState({ validate: true });
    addWorker(state, 'w1', 4);
    state.handleSubmitGraph('job', [task('a'), task('b'), task('c'), task('s', ['a', 'b', 'c'])], ['s'], 0);
    state.takeOutbox();
    state.takeProgress();
    state.handleTaskFinished('w1', { key: 'a', nbytes: 1, durationMs: 1 }, 1);
    state.handleTaskFinished('w1', { key: 'b', nbytes: 1, durationMs: 1 }, 1);
    expect(state.takeProgress()).toEqual([{ kind: 'progress', jobId: 'job', done: 2, total: 4 }]);
    expect(state.takeProgress()).toEqual([]);
  });

  it('queues root tasks on the scheduler: a worker holds at most ceil(1.1 x threads)', () => {
    const state = new SchedulerState({ validate: true });
    const w1 = addWorker(state, 'w1', 2);
    const w2 = addWorker(state, 'w2', 1);
    const tasks = Array.from({ length: 50 }, (_, i) => task(`r${i}`, [], 'load'));
    state.handleSubmitGraph('job', [...tasks, task('sum', tasks.map((t) => t.key))], ['sum'], 0);
    const outbox = state.takeOutbox();
    expect(assignedKeys(outbox, w1)).toHaveLength(Math.ceil(1.1 * 2));
    expect(assignedKeys(outbox, w2)).toHaveLength(Math.ceil(1.1 * 1));
    expect(state.queuedCount()).toBe(50 - 5);
    // Priority order: the first tasks go out first.
    expect([...assignedKeys(outbox, w1), ...assignedKeys(outbox, w2)].sort()).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    // A completion frees a slot which is refilled from the queue.
    state.handleTaskFinished('w2', { key: assignedKeys(outbox, w2)[0]!, nbytes: 1e6, durationMs: 100 }, 1);
    expect(assignedKeys(state.takeOutbox(), w2)).toEqual(['r5']);
  });

  it('gives short tasks with small results more slots so workers are not idle between round trips', () => {
    const state = new SchedulerState({ validate: true });
    const w = addWorker(state, 'w1', 1);
    state.estimates.record('noop', 0.01, 8);
    expect(state.rootSlots(w, 'noop')).toBeGreaterThan(100);
    state.estimates.record('load', 50, 4e6);
    expect(state.rootSlots(w, 'load')).toBe(2);
    state.estimates.record('big', 0.01, 4e6); // short but large: memory wins
    expect(state.rootSlots(w, 'big')).toBeLessThanOrEqual(16);
  });

  it('places a task where its inputs are', () => {
    const state = new SchedulerState({ validate: true });
    const w1 = addWorker(state, 'w1', 1);
    const w2 = addWorker(state, 'w2', 1);
    state.handleSubmitGraph('job', [task('a'), task('b'), task('c'), task('d'), task('a2', ['a']), task('d2', ['d'])], ['a2', 'd2'], 0);
    const first = state.takeOutbox();
    const on = (key: string): WorkerState => (assignedKeys(first, w1).includes(key) ? w1 : w2);
    // Root tasks go out in contiguous runs: a, b to one worker, c, d to the other.
    expect(on('a')).toBe(on('b'));
    expect(on('c')).toBe(on('d'));
    expect(on('a')).not.toBe(on('d'));
    state.handleTaskFinished(on('a').id, { key: 'a', nbytes: 50e6, durationMs: 10 }, 1);
    state.handleTaskFinished(on('d').id, { key: 'd', nbytes: 50e6, durationMs: 10 }, 1);
    const next = state.takeOutbox();
    expect(assignedKeys(next, on('a'))).toContain('a2');
    expect(assignedKeys(next, on('d'))).toContain('d2');
  });

  it('keeps the inputs of one dependent on one worker (the dates a composite of one tile reduces)', () => {
    const state = new SchedulerState({ validate: true });
    addWorker(state, 'w1', 1);
    addWorker(state, 'w2', 1);
    const families = Array.from({ length: 6 }, (_, f) => ({ dates: [0, 1, 2].map((d) => task(`t${f}d${d}`)), key: `composite${f}` }));
    const tasks = families.flatMap((f) => [...f.dates, task(f.key, f.dates.map((d) => d.key))]);
    state.handleSubmitGraph('job', tasks, families.map((f) => f.key), 0);
    const ranOn = drain(state);
    // Only at the end may a family be split: there a worker would otherwise idle while work is queued.
    const split = families.filter((f) => new Set(f.dates.map((d) => ranOn.get(d.key))).size > 1);
    expect(split.map((f) => f.key)).toEqual([families.at(-1)!.key]);
    for (const f of families.slice(0, -1)) expect(ranOn.get(f.key)).toBe(ranOn.get(f.dates[0]!.key));
    const used = new Set(ranOn.values());
    expect(used.size).toBe(2);
  });

  it('spreads independent work over both workers', () => {
    const state = new SchedulerState({ validate: true });
    addWorker(state, 'w1', 1);
    addWorker(state, 'w2', 1);
    const leaves = Array.from({ length: 20 }, (_, i) => task(`l${i}`));
    state.handleSubmitGraph('job', [...leaves, task('sum', leaves.map((l) => l.key))], ['sum'], 0);
    const ranOn = drain(state);
    const counts = { w1: 0, w2: 0 } as Record<string, number>;
    for (const id of ranOn.values()) counts[id]!++;
    expect(counts.w1).toBeGreaterThanOrEqual(8);
    expect(counts.w2).toBeGreaterThanOrEqual(8);
  });

  it('redoes a dead worker\'s running tasks and recomputes results only it held', () => {
    const state = new SchedulerState({ validate: true });
    const w1 = addWorker(state, 'w1', 1);
    const w2 = addWorker(state, 'w2', 1);
    state.handleSubmitGraph('job', [task('a'), task('b'), task('c', ['a', 'b'])], ['c'], 0);
    const outbox = state.takeOutbox();
    const aOn = assignedKeys(outbox, w1).includes('a') ? w1 : w2;
    const other = aOn === w1 ? w2 : w1;
    state.handleTaskFinished(aOn.id, { key: 'a', nbytes: 10, durationMs: 1 }, 1);
    state.takeOutbox();
    // The worker holding `a` dies before `c` can run: `a` is recomputed on the survivor.
    state.handleWorkerRemoved(aOn.id, 'killed', true, 2);
    const after = state.takeOutbox();
    expect(assignedKeys(after, other)).toContain('a');
    expect(after.jobEvents.some((e) => e.kind === 'log' && e.message.includes(aOn.name))).toBe(true);
    state.handleTaskFinished(other.id, { key: 'b', nbytes: 10, durationMs: 1 }, 3);
    state.handleTaskFinished(other.id, { key: 'a', nbytes: 10, durationMs: 1 }, 3);
    expect(assignedKeys(state.takeOutbox(), other)).toEqual(['c']);
    state.handleTaskFinished(other.id, { key: 'c', nbytes: 10, durationMs: 1 }, 4);
    expect(state.takeOutbox().jobEvents.some((e) => e.kind === 'status' && e.status === 'finished')).toBe(true);
  });

  it(`fails a task that was on ${MAX_WORKER_DEATHS_PER_TASK} dying workers, naming them`, () => {
    const state = new SchedulerState({ validate: true });
    for (let i = 1; i <= MAX_WORKER_DEATHS_PER_TASK; i++) addWorker(state, `w${i}`, 1);
    state.handleSubmitGraph('job', [task('poison')], ['poison'], 0);
    let events: Outbox['jobEvents'] = [];
    for (let i = 0; i < MAX_WORKER_DEATHS_PER_TASK; i++) {
      const t = state.tasks.get('poison')!;
      expect(t.state).toBe('processing');
      state.handleWorkerRemoved(t.processingOn!.id, 'killed', true, i);
      events = state.takeOutbox().jobEvents;
    }
    const status = events.find((e) => e.kind === 'status');
    expect(status).toMatchObject({ status: 'error' });
    expect(status && status.kind === 'status' && status.error?.message).toMatch(/3 workers that died: w\d, w\d, w\d/);
    expect(state.jobs.size).toBe(0);
  });

  it('retries transient errors with back-off, then gives up', () => {
    const state = new SchedulerState({ validate: true });
    addWorker(state, 'w1', 1);
    state.handleSubmitGraph('job', [task('flaky')], ['flaky'], 0);
    state.takeOutbox();
    let now = 0;
    for (let attempt = 0; attempt < MAX_TRANSIENT_RETRIES; attempt++) {
      state.handleTaskErred('w1', { key: 'flaky', kind: 'transient', message: 'connection reset', code: 'Internal' }, now);
      expect(state.tasks.get('flaky')!.state).toBe('waiting');
      state.handleTick(now + 1, 60_000);
      expect(state.tasks.get('flaky')!.state).toBe('waiting'); // back-off not over
      now += 10_000;
      state.handleTick(now, 60_000);
      expect(state.tasks.get('flaky')!.state).toBe('processing');
    }
    state.takeOutbox();
    state.handleTaskErred('w1', { key: 'flaky', kind: 'transient', message: 'connection reset', code: 'Internal' }, now);
    const status = state.takeOutbox().jobEvents.find((e) => e.kind === 'status');
    expect(status).toMatchObject({ status: 'error' });
  });

  it('fails the job at once on a user error and stops its other tasks', () => {
    const state = new SchedulerState({ validate: true });
    const w = addWorker(state, 'w1', 2);
    state.handleSubmitGraph('job', [task('a'), task('b'), task('c', ['a', 'b'])], ['c'], 0);
    state.takeOutbox();
    state.handleTaskErred('w1', { key: 'a', kind: 'user', message: 'band B99 does not exist', code: 'ProcessParameterInvalid' }, 1);
    const outbox = state.takeOutbox();
    expect(outbox.jobEvents.find((e) => e.kind === 'status')).toMatchObject({ status: 'error', error: { message: 'band B99 does not exist' } });
    expect(outbox.cancel.get(w)).toEqual(['b']);
    expect(state.tasks.size).toBe(0);
  });

  it('cancels a job: running tasks are stopped on their workers and results released', () => {
    const state = new SchedulerState({ validate: true });
    const w = addWorker(state, 'w1', 1);
    state.handleSubmitGraph('job', [task('a'), task('b'), task('c', ['a', 'b'])], ['c'], 0);
    expect(assignedKeys(state.takeOutbox(), w)).toEqual(['a', 'b']);
    state.handleTaskFinished('w1', { key: 'a', nbytes: 1, durationMs: 1000 }, 1);
    expect(state.handleCancelJob('job', 2)).toBe(true);
    const outbox = state.takeOutbox();
    expect(outbox.cancel.get(w)).toEqual(['b']);
    expect(outbox.release.get(w)).toEqual(['a']);
    expect(outbox.jobEvents).toContainEqual(expect.objectContaining({ kind: 'status', status: 'canceled' }));
    expect(state.handleCancelJob('job', 3)).toBe(false);
  });

  it('computes a shared sub-graph once for two jobs', () => {
    const state = new SchedulerState({ validate: true });
    const w = addWorker(state, 'w1', 1);
    state.handleSubmitGraph('j1', [task('load'), task('out1', ['load'])], ['out1'], 0);
    state.handleSubmitGraph('j2', [task('load'), task('out2', ['load'])], ['out2'], 0);
    expect(assignedKeys(state.takeOutbox(), w)).toEqual(['load']);
    state.handleTaskFinished('w1', { key: 'load', nbytes: 1, durationMs: 1 }, 1);
    const ran = drain(state);
    expect([...ran.keys()].sort()).toEqual(['out1', 'out2']);
    expect(state.jobs.size).toBe(0);
  });

  it('shares workers fairly: a small job is not starved by a large one', () => {
    const state = new SchedulerState({ validate: true });
    const w = addWorker(state, 'w1', 1);
    state.estimates.record('slow', 1000, 1e6);
    const big = Array.from({ length: 100 }, (_, i) => task(`big${i}`, [], 'slow'));
    state.handleSubmitGraph('big', [...big, task('bigsum', big.map((t) => t.key), 'slow')], ['bigsum'], 0);
    state.handleSubmitGraph('small', [task('s1', [], 'slow'), task('s2', [], 'slow')], ['s1', 's2'], 0);
    state.takeOutbox();
    // Run 6 tasks; the small job must finish among them.
    let smallDone = false;
    for (let i = 0; i < 6; i++) {
      const running = [...w.processing];
      const next = running.sort((a, b) => a.assignedAt - b.assignedAt)[0]!;
      state.handleTaskFinished('w1', { key: next.key, nbytes: 1, durationMs: 1000 }, i + 1);
      if (state.takeOutbox().jobEvents.some((e) => e.kind === 'status' && e.jobId === 'small')) smallDone = true;
    }
    expect(smallDone).toBe(true);
  });

  it('rejects graphs with unknown dependencies or cycles and stays consistent', () => {
    const state = new SchedulerState({ validate: true });
    addWorker(state, 'w1');
    expect(() => state.handleSubmitGraph('j', [task('a', ['nope'])], ['a'], 0)).toThrow(/unknown task nope/);
    expect(() => state.handleSubmitGraph('j', [task('a', ['b']), task('b', ['a'])], ['a'], 0)).toThrow(/cycle/);
    expect(state.tasks.size).toBe(0);
    state.handleSubmitGraph('j', [task('a')], ['a'], 0);
    expect(drain(state).get('a')).toBe('w1');
  });

  it('drops a worker whose heartbeats stop', () => {
    const state = new SchedulerState({ validate: true });
    addWorker(state, 'w1');
    addWorker(state, 'w2');
    state.handleSubmitGraph('j', [task('a')], ['a'], 0);
    state.takeOutbox();
    state.handleHeartbeat('w2', { processBytes: 1, managedBytes: 0, spilledBytes: 0 }, 9_000);
    state.handleTick(10_000, 5_000);
    const outbox = state.takeOutbox();
    expect(outbox.dropWorkers.map((w) => w.id)).toEqual(['w1']);
    expect(state.workers.has('w1')).toBe(false);
    expect(state.tasks.get('a')!.processingOn?.id).toBe('w2');
  });

  it('keeps a bounded transition log', () => {
    const state = new SchedulerState({ transitionLogSize: 10 });
    addWorker(state, 'w1', 1000);
    const tasks = Array.from({ length: 20 }, (_, i) => task(`t${i}`));
    state.handleSubmitGraph('j', tasks, tasks.map((t) => t.key), 0);
    expect(state.log.recent()).toHaveLength(10);
    expect(state.log.size).toBeGreaterThan(20);
    expect(state.log.recent().at(-1)).toMatchObject({ key: 't19', from: 'queued', to: 'processing', stimulus: 'submit:j' });
    const full = new SchedulerState();
    addWorker(full, 'w1', 1);
    full.handleSubmitGraph('j', [task('t')], ['t'], 0);
    expect(full.log.story('t').map((t) => t.to)).toEqual(['waiting', 'queued', 'processing']);
  });

  it('steals queued work for an idle worker when moving it is cheap', () => {
    const state = new SchedulerState({ validate: true });
    const busy = addWorker(state, 'busy', 1);
    state.estimates.record('slow', 1000, 1000);
    // A root on `busy`, then eight cheap dependents that all land where their input is.
    state.handleSubmitGraph('job', [task('root', [], 'slow', 1000), ...Array.from({ length: 8 }, (_, i) => task(`d${i}`, ['root'], 'slow', 1000))], Array.from({ length: 8 }, (_, i) => `d${i}`), 0);
    state.takeOutbox();
    state.handleTaskFinished('busy', { key: 'root', nbytes: 1000, durationMs: 1000 }, 1);
    expect(assignedKeys(state.takeOutbox(), busy)).toHaveLength(8);
    const idle = addWorker(state, 'idle', 1);
    state.takeOutbox();
    state.handleTick(2, 60_000);
    const outbox = state.takeOutbox();
    const asked = outbox.steal.get(busy) ?? [];
    expect(asked.length).toBe(2);
    // The busy worker hands back one it had not started; it is assigned to the thief.
    state.handleHandBack('busy', [asked[0]!], 3);
    expect(assignedKeys(state.takeOutbox(), idle)).toEqual([asked[0]]);
    expect(state.tasks.get(asked[0]!)!.processingOn).toBe(idle);
    // The other had started: it finishes on the busy worker, and the steal is forgotten.
    state.handleTaskFinished('busy', { key: asked[1]!, nbytes: 10, durationMs: 1000 }, 4);
    expect(idle.incomingSteals).toBe(0);
  });

  it('does not steal when moving the inputs costs more than waiting', () => {
    const state = new SchedulerState({ validate: true });
    const busy = addWorker(state, 'busy', 1);
    state.estimates.record('quick', 1, 1);
    state.handleSubmitGraph('job', [task('root', [], 'quick', 5e8), task('a', ['root'], 'quick'), task('b', ['root'], 'quick'), task('c', ['root'], 'quick')], ['a', 'b', 'c'], 0);
    state.takeOutbox();
    state.handleTaskFinished('busy', { key: 'root', nbytes: 5e8, durationMs: 1 }, 1);
    expect(assignedKeys(state.takeOutbox(), busy)).toHaveLength(3);
    addWorker(state, 'idle', 1);
    state.handleTick(2, 60_000);
    expect(state.takeOutbox().steal.size).toBe(0);
  });

  it('retires a worker: hands back unstarted tasks, copies unique needed results, then lets it go', () => {
    const state = new SchedulerState({ validate: true });
    const leaving = addWorker(state, 'leaving', 1);
    state.handleSubmitGraph('job', [task('a'), task('b'), task('c', ['a', 'b'])], ['c'], 0);
    const first = state.takeOutbox();
    expect(assignedKeys(first, leaving)).toEqual(['a', 'b']);
    state.handleTaskFinished('leaving', { key: 'a', nbytes: 10, durationMs: 1 }, 1);
    const staying = addWorker(state, 'staying', 1);
    state.takeOutbox();
    state.handleRetireRequest('leaving', 2);
    let outbox = state.takeOutbox();
    expect(outbox.steal.get(leaving)).toEqual(['b']);
    expect(outbox.replicate.get(staying)!.map((t) => t.key)).toEqual(['a']);
    expect(outbox.retire).toEqual([]);
    state.handleHandBack('leaving', ['b'], 3);
    outbox = state.takeOutbox();
    expect(assignedKeys(outbox, staying)).toEqual(['b']);
    expect(outbox.retire).toEqual([]); // `a` is still only on the leaving worker
    state.handleAcquired('staying', [{ key: 'a', nbytes: 10 }], 4);
    outbox = state.takeOutbox();
    expect(outbox.retire).toEqual([leaving]);
    state.handleWorkerRemoved('leaving', 'retired', false, 5);
    state.handleTaskFinished('staying', { key: 'b', nbytes: 10, durationMs: 1 }, 6);
    expect(assignedKeys(state.takeOutbox(), staying)).toEqual(['c']);
    expect(state.tasks.get('a')!.diedOn).toEqual([]);
  });

  it('pauses a worker above the memory threshold and resumes it below', () => {
    const state = new SchedulerState({ validate: true });
    const w = addWorker(state, 'w', 1);
    state.handleHeartbeat('w', { processBytes: 0.85e9, managedBytes: 0, spilledBytes: 0 }, 1);
    expect(w.status).toBe('paused');
    state.handleSubmitGraph('job', [task('a')], ['a'], 2);
    expect(state.takeOutbox().assign.size).toBe(0);
    expect(state.queuedCount()).toBe(1);
    state.handleHeartbeat('w', { processBytes: 0.78e9, managedBytes: 0, spilledBytes: 0 }, 3);
    expect(w.status).toBe('paused'); // hysteresis
    state.handleHeartbeat('w', { processBytes: 0.5e9, managedBytes: 0, spilledBytes: 0 }, 4);
    expect(w.status).toBe('running');
    expect(assignedKeys(state.takeOutbox(), w)).toEqual(['a']);
  });

  it('refuses a graph whose single task needs more memory than any worker has', () => {
    const state = new SchedulerState({ validate: true });
    addWorker(state, 'w', 1);
    expect(() => state.handleSubmitGraph('big', [task('huge', [], 'op', 5e9)], ['huge'], 0)).toThrow(/more than the largest worker can hold \(1\.0 GB\)/);
    expect(state.tasks.size).toBe(0);
  });

  it('retries out-of-memory failures elsewhere, then fails the job saying so', () => {
    const state = new SchedulerState({ validate: true });
    addWorker(state, 'w', 1);
    state.handleSubmitGraph('job', [task('a')], ['a'], 0);
    state.takeOutbox();
    let now = 0;
    for (let attempt = 0; attempt < MAX_TRANSIENT_RETRIES; attempt++) {
      state.handleTaskErred('w', { key: 'a', kind: 'out-of-memory', message: 'allocation failed', code: 'Internal' }, now);
      now += 10_000;
      state.handleTick(now, 60_000);
    }
    state.handleTaskErred('w', { key: 'a', kind: 'out-of-memory', message: 'allocation failed', code: 'Internal' }, now);
    const status = state.takeOutbox().jobEvents.find((e) => e.kind === 'status');
    expect(status && status.kind === 'status' && status.error?.message).toMatch(/out of memory: op needs more memory than a worker has \(limit 1\.0 GB\)/);
  });

  it('recomputes a chain from lineage when a worker holding its last link dies after its inputs were released', () => {
    const state = new SchedulerState({ validate: true });
    const w1 = addWorker(state, 'w1', 1);
    state.handleSubmitGraph('job', [task('a'), task('b', ['a']), task('c', ['b']), task('d', ['c'])], ['d'], 0);
    let now = 1;
    for (const key of ['a', 'b']) {
      state.takeOutbox();
      state.handleTaskFinished('w1', { key, nbytes: 10, durationMs: 1 }, now++);
    }
    // a was released once b was computed; b now lives only on w1, and c is assigned.
    expect(state.tasks.get('a')!.state).toBe('released');
    const w2 = addWorker(state, 'w2', 1);
    state.handleWorkerRemoved('w1', 'killed', true, now++);
    // b and, for it, a must be computed again on w2.
    expect(assignedKeys(state.takeOutbox(), w2)).toEqual(['a']);
    for (const key of ['a', 'b', 'c', 'd']) {
      state.handleTaskFinished('w2', { key, nbytes: 10, durationMs: 1 }, now++);
      state.takeOutbox();
    }
    expect(state.jobs.size).toBe(0);
    void w1;
  });

  it('two workers retiring together: a result both hold is copied to a running worker before either leaves', () => {
    const state = new SchedulerState({ validate: true });
    const a = addWorker(state, 'a', 1);
    const b = addWorker(state, 'b', 1);
    state.handleSubmitGraph('job', [task('x'), task('y', ['x'])], ['y'], 0);
    const first = state.takeOutbox();
    const xOn = assignedKeys(first, a).includes('x') ? a : b;
    const other = xOn === a ? b : a;
    state.handleTaskFinished(xOn.id, { key: 'x', nbytes: 10, durationMs: 1000 }, 1);
    state.takeOutbox();
    // `y` runs; meanwhile a copy of `x` lands on the other worker too (e.g. a fetch for a stolen task).
    state.handleAcquired(other.id, [{ key: 'x', nbytes: 10 }], 2);
    const c = addWorker(state, 'c', 1);
    state.takeOutbox();
    state.handleRetireRequest(a.id, 3);
    state.handleRetireRequest(b.id, 3);
    const outbox = state.takeOutbox();
    const copies = outbox.replicate.get(c)?.map((t) => t.key) ?? [];
    expect(copies).toEqual(['x']);
    expect(outbox.retire).toEqual([]);
    // y was running on xOn: it hands it back; then c acknowledges the copy and both may go.
    state.handleHandBack(xOn.id, ['y'], 4);
    state.handleAcquired('c', [{ key: 'x', nbytes: 10 }], 5);
    expect(state.takeOutbox().retire.sort((p, q) => p.name.localeCompare(q.name))).toEqual([a, b]);
  });

  it('lets a retiring worker go when copying its results takes too long', () => {
    const state = new SchedulerState({ validate: true });
    addWorker(state, 'leaving', 1);
    state.handleSubmitGraph('job', [task('x'), task('y', ['x'])], ['y'], 0);
    state.takeOutbox();
    state.handleTaskFinished('leaving', { key: 'x', nbytes: 10, durationMs: 1 }, 1);
    addWorker(state, 'staying', 1);
    state.takeOutbox();
    state.handleRetireRequest('leaving', 2);
    state.handleHandBack('leaving', ['y'], 3);
    expect(state.takeOutbox().retire).toEqual([]);
    state.handleTick(2 + RETIRE_COPY_TIMEOUT_MS + 1, 60_000);
    expect(state.takeOutbox().retire.map((w) => w.name)).toEqual(['leaving']);
  });
});
