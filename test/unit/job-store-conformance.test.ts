import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileJobStore } from '../../api/jobs/file-job-store.js';
import type { JobRecord, LogEntry } from '../../api/jobs/job-record.js';
import type { JobStore } from '../../api/jobs/job-store.js';
import { JetStreamJobStore } from '../../api/jobs/jetstream-job-store.js';
import { type NatsServer, startNats, tempDir } from '../helpers/processes.js';

/**
 * One behaviour for every job store: the file store of the embedded default and the JetStream
 * store used with NATS run the same cases, the latter against a real nats-server.
 */

interface StoreUnderTest {
  name: string;
  setUp(): Promise<void>;
  /** A store over the backing storage; a second call is the same storage after an API restart. */
  open(): Promise<JobStore>;
  tearDown(): Promise<void>;
}

function fileStore(): StoreUnderTest {
  let dir = '';
  return {
    name: 'FileJobStore',
    async setUp() {
      dir = tempDir('job-store');
    },
    async open() {
      return new FileJobStore(dir);
    },
    async tearDown() {},
  };
}

function jetStreamStore(): StoreUnderTest {
  let nats: NatsServer;
  const connections: NatsConnection[] = [];
  return {
    name: 'JetStreamJobStore',
    async setUp() {
      nats = await startNats();
    },
    async open() {
      const connection = await connect({ servers: nats.url });
      connections.push(connection);
      return JetStreamJobStore.open(connection);
    },
    async tearDown() {
      for (const connection of connections) await connection.close();
      await nats?.stop();
    },
  };
}

let counter = 0;
function record(owner: string, overrides: Partial<JobRecord> = {}): JobRecord {
  counter++;
  const created = new Date(Date.UTC(2024, 0, 1, 0, 0, counter)).toISOString();
  return {
    id: `j-test${String(counter).padStart(4, '0')}`,
    owner,
    title: `job ${counter}`,
    description: null,
    process: { process_graph: { x: { process_id: 'add', arguments: { x: 1, y: 2 }, result: true } } },
    plan: null,
    budget: null,
    logLevel: 'info',
    status: 'created',
    progress: 0,
    created,
    updated: created,
    run: 0,
    resumes: 0,
    tasksDone: 0,
    tasksTotal: 0,
    startedAt: null,
    finishedAt: null,
    error: null,
    results: null,
    outputs: null,
    ...overrides,
  };
}

function entry(level: LogEntry['level'], message: string): Omit<LogEntry, 'id'> {
  return { level, message, time: new Date().toISOString() };
}

for (const subject of [fileStore(), jetStreamStore()]) {
  describe(`job store conformance: ${subject.name}`, () => {
    let store: JobStore;

    beforeAll(async () => {
      await subject.setUp();
      store = await subject.open();
    });

    afterAll(async () => {
      await store?.close();
      await subject.tearDown();
    });

    it('creates and reads records; an unknown id is undefined', async () => {
      const job = record('alice', { results: [{ name: 'result.tif', path: 'jobs/x/result.tif', bytes: 10, type: 'image/tiff', bands: [{ name: 'data', data_type: 'float32', nodata: 'nan', statistics: { minimum: 0, maximum: 1, mean: 0.5, stddev: 0.1, valid_percent: 99 } }] }] });
      await store.create(job);
      expect(await store.get(job.id)).toEqual(job);
      expect(await store.get('j-nope')).toBeUndefined();
    });

    it('lists the jobs of one owner, newest first, and all jobs for recovery', async () => {
      const older = record('bob');
      const newer = record('bob');
      const other = record('carol');
      for (const r of [older, newer, other]) await store.create(r);
      expect((await store.list('bob')).map((r) => r.id)).toEqual([newer.id, older.id]);
      expect((await store.list('nobody')).length).toBe(0);
      const all = (await store.all()).map((r) => r.id);
      for (const r of [older, newer, other]) expect(all).toContain(r.id);
    });

    it('applies updates atomically: concurrent changes are all kept', async () => {
      const job = record('dave');
      await store.create(job);
      await Promise.all(Array.from({ length: 20 }, () => store.update(job.id, (r) => ({ ...r, tasksDone: r.tasksDone + 1 }))));
      expect((await store.get(job.id))!.tasksDone).toBe(20);
    });

    it('keeps the record when a change returns null or throws; an unknown id updates nothing', async () => {
      const job = record('erin');
      await store.create(job);
      expect(await store.update(job.id, () => null)).toEqual(job);
      await expect(store.update(job.id, () => {
        throw new Error('refused');
      })).rejects.toThrow('refused');
      expect(await store.get(job.id)).toEqual(job);
      expect(await store.update('j-nope', (r) => r)).toBeUndefined();
    });

    it('appends log entries with increasing ids and pages through them by offset, level and limit', async () => {
      const job = record('frank');
      await store.create(job);
      expect(await store.logs(job.id, {})).toEqual({ entries: [], next: null });
      const written: LogEntry[] = [];
      const levels: LogEntry['level'][] = ['debug', 'info', 'warning', 'error', 'info', 'debug', 'info'];
      for (const [i, level] of levels.entries()) written.push(await store.appendLog(job.id, entry(level, `message ${i}`)));
      const ids = written.map((e) => Number(e.id));
      for (let i = 1; i < ids.length; i++) expect(ids[i]!).toBeGreaterThan(ids[i - 1]!);

      const all = await store.logs(job.id, {});
      expect(all.entries.map((e) => e.message)).toEqual(levels.map((_, i) => `message ${i}`));
      expect(all.entries).toEqual(written);
      expect(all.next).toBeNull();

      const infoAndUp = await store.logs(job.id, { minLevel: 'info' });
      expect(infoAndUp.entries.map((e) => e.message)).toEqual(['message 1', 'message 2', 'message 3', 'message 4', 'message 6']);

      const page1 = await store.logs(job.id, { minLevel: 'info', limit: 2 });
      expect(page1.entries.map((e) => e.message)).toEqual(['message 1', 'message 2']);
      expect(page1.next).toBe(page1.entries[1]!.id);
      const page2 = await store.logs(job.id, { minLevel: 'info', limit: 2, offset: page1.next });
      expect(page2.entries.map((e) => e.message)).toEqual(['message 3', 'message 4']);
      const page3 = await store.logs(job.id, { minLevel: 'info', limit: 2, offset: page2.next });
      expect(page3.entries.map((e) => e.message)).toEqual(['message 6']);
      expect(page3.next).toBeNull();

      expect((await store.logs(job.id, { offset: written[written.length - 1]!.id })).entries).toEqual([]);
      expect((await store.logs(job.id, { minLevel: 'error' })).entries.map((e) => e.message)).toEqual(['message 3']);
    });

    it('keeps the logs of jobs apart', async () => {
      const a = record('gina');
      const b = record('gina');
      await store.create(a);
      await store.create(b);
      await store.appendLog(a.id, entry('info', 'for a'));
      await store.appendLog(b.id, entry('info', 'for b'));
      await store.appendLog(a.id, { ...entry('error', 'a failed'), code: 'Internal', data: { worker: 'w1' } });
      const logs = (await store.logs(a.id, {})).entries;
      expect(logs.map((e) => e.message)).toEqual(['for a', 'a failed']);
      expect(logs[1]!.code).toBe('Internal');
      expect(logs[1]!.data).toEqual({ worker: 'w1' });
    });

    it('deletes a job with its logs', async () => {
      const job = record('hank');
      await store.create(job);
      await store.appendLog(job.id, entry('info', 'soon gone'));
      await store.delete(job.id);
      expect(await store.get(job.id)).toBeUndefined();
      expect((await store.all()).some((r) => r.id === job.id)).toBe(false);
      expect((await store.logs(job.id, {})).entries).toEqual([]);
    });

    it('loses nothing across a restart: a new store over the same storage sees records and logs', async () => {
      const job = record('ivy', { status: 'running', run: 2 });
      await store.create(job);
      await store.update(job.id, (r) => ({ ...r, progress: 42 }));
      const first = await store.appendLog(job.id, entry('warning', 'before the restart'));
      await store.close();
      store = await subject.open();
      expect((await store.get(job.id))!.progress).toBe(42);
      expect((await store.list('ivy')).map((r) => r.id)).toEqual([job.id]);
      const after = await store.appendLog(job.id, entry('info', 'after the restart'));
      expect(Number(after.id)).toBeGreaterThan(Number(first.id));
      expect((await store.logs(job.id, {})).entries.map((e) => e.message)).toEqual(['before the restart', 'after the restart']);
    });
  });
}
