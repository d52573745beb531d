import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, JSONCodec, type NatsConnection } from 'nats';
import { schedulerClient, type SchedulerClient } from '../../common/grpc.js';
import type { JobStatusEvent } from '../../common/events/index.js';
import { freePort, type NatsServer, type RoleProcess, startNats, startRole } from '../helpers/processes.js';

const encoder = new TextEncoder();
const codec = JSONCodec<JobStatusEvent>();

function spec(key: string, op: string, deps: string[] = [], args: unknown = {}, estBytes = 0) {
  return { key, op, args: encoder.encode(JSON.stringify(args)), deps, priority: 0, estBytes };
}

describe('scheduler and worker processes over gRPC, events over NATS', () => {
  let nats: NatsServer;
  let scheduler: RoleProcess;
  const workers: RoleProcess[] = [];
  let client: SchedulerClient;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNats();
    const port = await freePort();
    const common = { NATS_URL: nats.url, SCHEDULER_ADDRESS: `127.0.0.1:${port}`, HEARTBEAT_INTERVAL_MS: '200', WORKER_TIMEOUT_MS: '2000' };
    scheduler = startRole('scheduler', { ...common, SCHEDULER_PORT: String(port), SCHEDULER_METRICS_PORT: '0', SCHEDULER_VALIDATE: '1' });
    await scheduler.waitForLog((l) => l.msg === 'scheduler listening');
    for (const name of ['alpha', 'beta']) {
      const worker = startRole('worker', { ...common, WORKER_NAME: name, WORKER_THREADS: '1' }, name);
      workers.push(worker);
      await worker.waitForLog((l) => l.msg === 'connected to the scheduler');
    }
    client = schedulerClient(`127.0.0.1:${port}`);
    nc = await connect({ servers: nats.url });
  });

  afterAll(async () => {
    await nc?.close();
    client?.close();
    await Promise.all(workers.map((w) => w.kill()));
    await scheduler?.kill();
    await nats?.stop();
  });

  function jobEnded(jobId: string): Promise<JobStatusEvent> {
    const sub = nc.subscribe(`openeo.job.${jobId}.status`);
    return (async () => {
      for await (const message of sub) {
        const event = codec.decode(message.data);
        if (event.status !== 'running') {
          sub.unsubscribe();
          return event;
        }
      }
      throw new Error('subscription closed');
    })();
  }

  function submit(jobId: string, tasks: ReturnType<typeof spec>[], outputs: string[]): Promise<void> {
    return new Promise((resolve, reject) => client.SubmitGraph({ jobId, tasks, outputs }, (error) => (error ? reject(error) : resolve())));
  }

  function clusterState(keys: string[] = []) {
    return new Promise<NonNullable<Parameters<Parameters<SchedulerClient['ClusterState']>[1]>[1]>>((resolve, reject) =>
      client.ClusterState({ keys }, (error, reply) => (error || !reply ? reject(error) : resolve(reply))),
    );
  }

  it('runs a tree sum over both workers and publishes the result on NATS', async () => {
    // Leaves that take a few ms each, so both workers must share them.
    const leaves = Array.from({ length: 200 }, (_, i) => spec(`leaf-${i}`, 'bench.spin', [], { ms: 4, value: 20 }));
    const partials = Array.from({ length: 10 }, (_, p) => spec(`partial-${p}`, 'bench.sum', leaves.slice(p * 20, p * 20 + 20).map((l) => l.key)));
    const total = spec('total', 'bench.sum', partials.map((p) => p.key));
    const ended = jobEnded('tree');
    await submit('tree', [...leaves, ...partials, total], ['total']);
    const event = await ended;
    expect(event.status).toBe('finished');
    expect(event.outputs).toEqual([{ key: 'total', meta: 4000 }]);
    expect(event.done).toBe(211);
    const state = await clusterState();
    const executed = Object.fromEntries(state.workers.map((w) => [w.name, Number(w.executed)]));
    expect(executed.alpha).toBeGreaterThan(50);
    expect(executed.beta).toBeGreaterThan(50);
  });

  it('runs a task where its large input sits', async () => {
    // `big` runs on a thread for a while; its 50 MB (declared) result then pins `consumer` to the same worker.
    const ended = jobEnded('locality');
    await submit('locality', [spec('big', 'bench.spin', [], { ms: 200, value: 1 }, 50e6), spec('consumer', 'bench.increment', ['big'])], ['consumer']);
    const event = await ended;
    expect(event.status).toBe('finished');
    const { keyTransitions } = await clusterState(['big', 'consumer']);
    const finishedOn = (key: string) => keyTransitions.find((t) => t.key === key && t.to === 'memory')?.stimulus;
    expect(finishedOn('big')).toMatch(/^task-finished:(alpha|beta)$/);
    expect(finishedOn('consumer')).toBe(finishedOn('big'));
  });

  it('rejects a graph with an unknown dependency', async () => {
    await expect(submit('bad', [spec('a', 'bench.noop', ['missing'])], ['a'])).rejects.toThrow(/unknown task missing/);
  });

  it('fails a job whose kernel does not exist, without hurting the workers', async () => {
    const ended = jobEnded('unknown-op');
    await submit('unknown-op', [spec('x', 'no.such.kernel')], ['x']);
    const event = await ended;
    expect(event.status).toBe('error');
    expect(event.error?.message).toMatch(/no kernel "no.such.kernel"/);
    const again = jobEnded('after');
    await submit('after', [spec('y', 'bench.noop')], ['y']);
    expect((await again).status).toBe('finished');
  });
});
