import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { apiConfig, type ApiConfig } from '../common/config.js';
import { ConfigError, describeError } from '../common/errors.js';
import { type EventBus, InProcessBus, NatsBus } from '../common/events/index.js';
import { createLogger, type Logger } from '../common/logger.js';
import { Catalog } from '../ingest/catalog.js';
import { ensureSampleData } from '../ingest/sample-data.js';
import { createApp } from './app.js';
import { startApiMetrics } from './metrics.js';
import { Accounts } from './auth/accounts.js';
import { loadSigningKey } from './auth/signing-key.js';
import { TokenSigner } from './auth/tokens.js';
import { FileJobStore } from './jobs/file-job-store.js';
import { BusEventSource, type JobEventSource } from './jobs/job-event-source.js';
import { JobService } from './jobs/job-service.js';
import type { JobStore } from './jobs/job-store.js';
import { JetStreamEventSource } from './jobs/jetstream-event-source.js';
import { JetStreamJobStore } from './jobs/jetstream-job-store.js';
import { SchedulerConnection } from './jobs/scheduler-client.js';
import { SyncProcessor } from './jobs/sync-processor.js';
import { defaultProcessRegistry } from './processes/index.js';
import { ResultLinks } from './routes/result-links.js';

export const BACKEND_VERSION = '0.1.0';

export interface RunningApi {
  server: Server;
  port: number;
  jobs: JobService;
  accounts: Accounts;
  stop(): Promise<void>;
}

export interface ApiOptions {
  bus?: EventBus;
  logger?: Logger;
  /** Allow the demo account when no accounts are configured (embedded default only). */
  allowDemo?: boolean;
}

/** Starts the API role: HTTP server, job store, event consumer and scheduler client. */
export async function runApi(config: ApiConfig = apiConfig(), options: ApiOptions = {}): Promise<RunningApi> {
  const logger = options.logger ?? createLogger('api');
  if (config.sampleData) {
    // Collections that exist (sample or ingested) are left alone; this is fast after the first start.
    const { created } = await ensureSampleData(config.dataDir, { log: (message: string) => logger.info(message) });
    if (created.length > 0) logger.info({ collections: created }, 'sample data prepared');
  }
  const bus = options.bus ?? (config.natsUrl ? await NatsBus.connect(config.natsUrl, 'api', logger) : new InProcessBus());
  const accounts = await Accounts.fromConfig({ accountsFile: config.accountsFile, accounts: config.accounts, allowDemo: options.allowDemo ?? false });
  const signer = new TokenSigner(await loadSigningKey(config.resultSigningKey, config.dataDir));
  const catalog = new Catalog(config.dataDir);
  const registry = defaultProcessRegistry();
  const scheduler = new SchedulerConnection(config.schedulerAddress);
  // With NATS, job records, logs and events live in JetStream and survive the API; without, records and logs are files.
  let store: JobStore;
  let events: JobEventSource;
  if (bus instanceof NatsBus) {
    try {
      store = await JetStreamJobStore.open(bus.connection);
      events = await JetStreamEventSource.create(bus.connection, logger);
    } catch (error) {
      throw new ConfigError('NATS_URL', `JetStream is not available on ${config.natsUrl} (${describeError(error)}); with NATS_URL set the API keeps job records, logs and events in JetStream: start nats-server with --jetstream`);
    }
  } else {
    store = new FileJobStore(config.dataDir);
    events = new BusEventSource(bus, logger);
  }
  const timing = { reconcileIntervalMs: config.jobReconcileIntervalMs, lostGraceMs: config.jobLostGraceMs, schedulerUnreachableLimitMs: config.schedulerUnreachableLimitMs };
  const jobs = new JobService({ store, catalog, registry, scheduler, events, dataDir: config.dataDir, logger, timing });
  await jobs.start();
  const sync = new SyncProcessor({
    catalog,
    registry,
    scheduler,
    bus,
    dataDir: config.dataDir,
    logger,
    limits: { timeoutMs: config.syncTimeoutMs, maxEstimatedSeconds: config.syncMaxEstimatedSeconds, maxResultBytes: config.syncMaxResultBytes },
    lostGraceMs: config.jobLostGraceMs,
  });
  await sync.removeLeftovers();
  const links = new ResultLinks(signer, config.resultLinkLifetimeSeconds);
  const app = createApp({ config, catalog, registry, jobs, sync, accounts, tokens: signer, links, version: BACKEND_VERSION }, logger);
  const server = app.listen(config.port, config.host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const metrics = config.metricsPort === null ? null : await startApiMetrics(store, { host: config.host, port: config.metricsPort }, logger);
  logger.info({ port, host: config.host, scheduler: config.schedulerAddress, dataDir: config.dataDir, jobStore: store instanceof FileJobStore ? 'files' : 'jetstream', users: accounts.users }, 'openEO API listening');
  return {
    server,
    port,
    jobs,
    accounts,
    async stop() {
      await metrics?.close();
      await jobs.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      scheduler.close();
      await store.close();
      if (!options.bus) await bus.close();
    },
  };
}
