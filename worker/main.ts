import { hostname } from 'node:os';
import { workerConfig, type WorkerConfig } from '../common/config.js';
import { type EventBus, NatsBus, workerTasksSubject, type WorkerTasksEvent } from '../common/events/index.js';
import { bindServer } from '../common/grpc.js';
import { createLogger, type Logger } from '../common/logger.js';
import { ChunkStore } from './chunk-store.js';
import { Executor } from './executor.js';
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
  const store = new ChunkStore();
  const pool = new ThreadPool(config.threads);
  const peerServer = createPeerServer(store);
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
      retire: () => retireResolve?.(),
      sessionLost: () => executor.reset(),
      connected: (workerId, intervalMs) => {
        logger.info({ workerId, address, scheduler: config.schedulerAddress }, 'connected to the scheduler');
        if (heartbeatTimer) clearInterval(heartbeatTimer);
        heartbeatTimer = setInterval(() => {
          link.sendHeartbeat({
            processBytes: process.memoryUsage.rss(),
            managedBytes: store.bytes,
            spilledBytes: 0,
            chunksHeld: store.count,
            executing: executor.executing,
            ready: executor.readyCount,
          });
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
  const bus: EventBus = config.natsUrl ? await NatsBus.connect(config.natsUrl, `worker-${name}`, logger) : new RelayBus(link);
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
    clearInterval(summaryTimer);
    if (heartbeatTimer) clearInterval(heartbeatTimer);
    link.close();
    fetcher.close();
    await bus.close();
    await pool.close();
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
