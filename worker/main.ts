import { hostname } from 'node:os';
import { join } from 'node:path';
import { MEMORY_REFUSE_FRACTION, MEMORY_SPILL_FRACTION } from '../common/memory-limits.js';
import { workerConfig, type WorkerConfig } from '../common/config.js';
import { type EventBus, NatsBus, workerTasksSubject, type WorkerTasksEvent } from '../common/events/index.js';
import { bindServer } from '../common/grpc.js';
import { HealthStatus, OVERALL_HEALTH, WORKER_SERVICE } from '../common/grpc-health.js';
import { createLogger, type Logger } from '../common/logger.js';
import { chunkBytes } from '../common/chunk.js';
import { ChunkStore } from './chunk-store.js';
import { Executor } from './executor.js';
import { startWorkerMetrics } from './metrics.js';
import { createPeerServer } from './peer-service.js';
import { PeerFetcher } from './peer-fetch.js';
import { RelayBus } from './relay-bus.js';
import { SchedulerLink } from './scheduler-link.js';
import { ThreadPool } from './thread-pool.js';

/** Version string workers report at registration. */
export const WORKER_VERSION = '0.1.0';
/** How often the per-worker task summary is published (ms). */
export const TASK_SUMMARY_INTERVAL_MS = 1_000;
/** How long a retiring worker waits for the scheduler's go-ahead before exiting anyway (ms). */
export const RETIRE_TIMEOUT_MS = 30_000;

export interface RunningWorker {
  name: string;
  address: string;
  link: SchedulerLink;
  store: ChunkStore;
  executor: Executor;
  /** Graceful retire: stop taking work, hand back what has not started, finish, then stop. */
  retire(reason: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the worker role: peer service, kernel threads, and the session with the scheduler. */
export async function runWorker(config: WorkerConfig = workerConfig(), options: { logger?: Logger } = {}): Promise<RunningWorker> {
  const name = config.name ?? `${hostname()}-${process.pid}`;
  const logger = options.logger ?? createLogger(`worker:${name}`);
  const store = new ChunkStore(join(config.spillDir, `openeo-spill-${name}-${process.pid}`), config.memoryLimit * MEMORY_SPILL_FRACTION);
  const pool = new ThreadPool(config.threads);
  const peerServer = createPeerServer(store);
  // Ready ("") once registered and until it retires; the peer service stays alive while it retires.
  const health = new HealthStatus(peerServer, { [OVERALL_HEALTH]: 'NOT_SERVING', [WORKER_SERVICE]: 'SERVING' });
  let retiring = false;
  const port = await bindServer(peerServer, `${config.host}:${config.port}`);
  const address = `${config.advertiseHost}:${port}`;
  const fetcher = new PeerFetcher(address);

  let finished = 0;
  let failed = 0;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let retireResolve: (() => void) | null = null;
  let executor!: Executor;

  const link: SchedulerLink = new SchedulerLink(
    { schedulerAddress: config.schedulerAddress, name, address, threads: config.threads, memoryLimit: config.memoryLimit, version: WORKER_VERSION },
    {
      assign: (tasks) => executor.assign(tasks),
      cancel: (keys) => executor.cancel(keys),
      release: (keys) => executor.release(keys),
      steal: (keys) => link.handBack(executor.takeBackUnstarted(keys)),
      replicate: (chunks) => void replicateChunks(chunks),
      retire: () => retireResolve?.(),
      sessionLost: () => {
        health.set(OVERALL_HEALTH, 'NOT_SERVING');
        executor.reset();
      },
      connected: (workerId, intervalMs) => {
        health.set(OVERALL_HEALTH, retiring ? 'NOT_SERVING' : 'SERVING');
        logger.info({ workerId, address, scheduler: config.schedulerAddress }, 'connected to the scheduler');
        if (heartbeatTimer) clearInterval(heartbeatTimer);
        heartbeatTimer = setInterval(() => {
          const rss = process.memoryUsage.rss();
          link.sendHeartbeat({
            processBytes: rss,
            managedBytes: store.bytes,
            spilledBytes: store.bytesSpilled,
            chunksHeld: store.count,
            executing: executor.executing,
            ready: executor.readyCount,
          });
          guardMemory(rss);
        }, intervalMs);
      },
    },
    logger,
  );
  executor = new Executor(store, pool, fetcher, {
    dataDir: config.dataDir,
    logger,
    report: (result) => {
      if (result.ok) finished++;
      else failed++;
      link.sendResult(result);
    },
  });
  /**
   * Process memory over the spill threshold: spill managed chunks by the excess. Over the refuse
   * threshold: also hand back everything not started (the scheduler has paused us by now).
   */
  const guardMemory = (rss: number): void => {
    const spillAt = config.memoryLimit * MEMORY_SPILL_FRACTION;
    if (rss > spillAt) void store.spillNow(Math.max(0, store.bytes - (rss - spillAt)));
    if (rss > config.memoryLimit * MEMORY_REFUSE_FRACTION) {
      const handed = executor.takeBackUnstarted();
      if (handed.length > 0) {
        logger.warn({ rss, limit: config.memoryLimit, handedBack: handed.length }, 'memory nearly exhausted: handing back tasks not started');
        link.handBack(handed);
      }
    }
  };

  /** Copies chunks from a retiring peer so they outlive it. */
  const replicateChunks = async (chunks: { key: string; holders: string[]; nbytes: number }[]): Promise<void> => {
    const byHolder = new Map<string, string[]>();
    for (const chunk of chunks) {
      const holder = chunk.holders[0];
      if (!holder) continue;
      byHolder.set(holder, [...(byHolder.get(holder) ?? []), chunk.key]);
    }
    for (const [holder, keys] of byHolder) {
      try {
        const fetched = await fetcher.fetch(holder, keys);
        const acquired: { key: string; nbytes: number }[] = [];
        for (const [key, chunk] of fetched) {
          store.put(key, chunk);
          acquired.push({ key, nbytes: chunkBytes(chunk) });
        }
        link.acquired(acquired);
      } catch (error) {
        logger.warn({ holder, chunks: keys.length, error: (error as Error).message }, 'could not copy chunks from a retiring peer; they will be recomputed if needed');
      }
    }
  };

  const bus: EventBus = config.natsUrl ? await NatsBus.connect(config.natsUrl, `worker-${name}`, logger) : new RelayBus(link);
  const metrics = config.metricsPort === null ? null : await startWorkerMetrics(
    { threads: config.threads, memoryLimit: config.memoryLimit, store, executor, connected: () => link.connected, retiring: () => retiring, outcomes: () => ({ finished, failed }) },
    { host: config.host, port: config.metricsPort },
    logger,
  );
  await link.start();

  let lastSummary = '';
  const summaryTimer = setInterval(() => {
    const event: WorkerTasksEvent = { workerId: link.workerId, workerName: name, at: new Date().toISOString(), finished, failed, executing: executor.executing };
    const signature = `${finished}/${failed}/${event.executing}`;
    if (signature === lastSummary) return;
    lastSummary = signature;
    bus.publish(workerTasksSubject(link.workerId), event);
  }, TASK_SUMMARY_INTERVAL_MS);

  const stop = async (): Promise<void> => {
    store.clear();
    clearInterval(summaryTimer);
    if (heartbeatTimer) clearInterval(heartbeatTimer);
    link.close();
    fetcher.close();
    await bus.close();
    await pool.close();
    await metrics?.close();
    await new Promise<void>((resolve) => peerServer.tryShutdown(() => resolve()));
  };

  return {
    name,
    address,
    link,
    store,
    executor,
    async retire(reason: string) {
      logger.info({ reason }, 'retiring');
      retiring = true;
      health.set(OVERALL_HEALTH, 'NOT_SERVING');
      if (!link.connected) {
        // No scheduler to hand work back to: nothing would wait for us.
        await stop();
        return;
      }
      const allowed = new Promise<void>((resolve) => {
        retireResolve = resolve;
        setTimeout(resolve, RETIRE_TIMEOUT_MS).unref();
      });
      link.requestRetire(reason);
      await allowed;
      await stop();
    },
    stop,
  };
}
