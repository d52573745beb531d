import { type ChildProcess, spawn } from 'node:child_process';
import { totalmem } from 'node:os';
import { embeddedConfig, type EmbeddedConfig } from '../common/config.js';
import { type EventBus, InProcessBus, NatsBus } from '../common/events/index.js';
import { createLogger } from '../common/logger.js';
import { mainScript } from '../common/paths.js';
import { runScheduler } from '../scheduler/index.js';
import { DEMO_ACCOUNT } from './auth/accounts.js';
import { runApi } from './main.js';

/** Wait before restarting a worker process that died (ms); doubles per consecutive crash up to 30 s. */
export const WORKER_RESTART_DELAY_MS = 1_000;
export const WORKER_RESTART_MAX_DELAY_MS = 30_000;
/** Share of the machine's memory all embedded workers together may use. */
export const EMBEDDED_WORKER_MEMORY_FRACTION = 0.7;

export interface RunningEmbedded {
  apiPort: number;
  schedulerPort: number;
  workers(): ChildProcess[];
  stop(): Promise<void>;
}

/**
 * The embedded default: the API and the scheduler in this process, WORKERS worker processes
 * beside it, all on loopback with the same gRPC protocol a cluster uses; events on an
 * in-process bus unless NATS_URL is set. The API prepares the sample data on first start.
 */
export async function runEmbedded(config: EmbeddedConfig = embeddedConfig()): Promise<RunningEmbedded> {
  const logger = createLogger('embedded');
  const bus: EventBus = config.api.natsUrl ? await NatsBus.connect(config.api.natsUrl, 'embedded', logger) : new InProcessBus();
  const scheduler = await runScheduler(config.scheduler, { bus, logger: createLogger('scheduler') });
  const schedulerAddress = `127.0.0.1:${scheduler.port}`;

  const children = new Map<number, ChildProcess>();
  let stopping = false;
  const memoryPerWorker = Math.floor((totalmem() * EMBEDDED_WORKER_MEMORY_FRACTION) / config.workers);
  const startWorker = (index: number, crashes: number): void => {
    const child = spawn(process.execPath, [mainScript(), 'worker'], {
      env: {
        ...process.env,
        SCHEDULER_ADDRESS: schedulerAddress,
        WORKER_NAME: `worker-${index + 1}`,
        WORKER_THREADS: String(config.workerThreads),
        WORKER_MEMORY_LIMIT: String(memoryPerWorker),
        WORKER_HOST: '127.0.0.1',
        WORKER_PORT: '0',
        DATA_DIR: config.api.dataDir,
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    children.set(index, child);
    const startedAt = Date.now();
    child.once('exit', (code, signal) => {
      if (stopping) return;
      const again = Date.now() - startedAt > WORKER_RESTART_MAX_DELAY_MS ? 0 : crashes + 1;
      const delay = Math.min(WORKER_RESTART_MAX_DELAY_MS, WORKER_RESTART_DELAY_MS * 2 ** again);
      logger.warn({ worker: index + 1, code, signal, restartInMs: delay }, 'worker process exited; restarting it');
      setTimeout(() => !stopping && startWorker(index, again), delay).unref();
    });
  };
  for (let i = 0; i < config.workers; i++) startWorker(i, 0);

  const api = await runApi({ ...config.api, schedulerAddress }, { bus, logger: createLogger('api'), allowDemo: true });
  const demo = api.accounts.users.includes(DEMO_ACCOUNT.user) && api.accounts.users.length === 1;
  logger.info(
    { url: `http://localhost:${api.port}`, workers: config.workers, dataDir: config.api.dataDir, ...(demo ? { user: DEMO_ACCOUNT.user, password: DEMO_ACCOUNT.password } : {}) },
    demo ? `openEO back-end ready at http://localhost:${api.port} — log in with user "${DEMO_ACCOUNT.user}", password "${DEMO_ACCOUNT.password}"` : `openEO back-end ready at http://localhost:${api.port}`,
  );
  return {
    apiPort: api.port,
    schedulerPort: scheduler.port,
    workers: () => [...children.values()],
    async stop() {
      stopping = true;
      await api.stop();
      await Promise.all(
        [...children.values()].map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once('exit', () => resolve());
              child.kill('SIGINT');
            }),
        ),
      );
      await scheduler.stop();
      await bus.close();
    },
  };
}
