import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { ConfigError } from './errors.js';

/**
 * Every environment variable the processes read is read here, validated at start-up, and
 * listed in ENVIRONMENT_VARIABLES (the deployment manifests are checked against that list).
 */

/** API port: the openEO convention most clients and examples assume. */
export const DEFAULT_PORT = 8080;
/** Data, catalog, job state and results live here unless DATA_DIR says otherwise. */
export const DEFAULT_DATA_DIR = './data';
/** Scheduler gRPC port; Dask's scheduler port, familiar to operators of such clusters. */
export const DEFAULT_SCHEDULER_PORT = 8786;
/** Worker gRPC port; 0 picks a free port, right for several workers on one host. */
export const DEFAULT_WORKER_PORT = 0;
/**
 * Prometheus metrics port of the scheduler: Prometheus' conventional exporter port. Workers and the
 * API serve metrics only when WORKER_METRICS_PORT / API_METRICS_PORT are set, because several of
 * them often share one host (the embedded default, tests) where one fixed port would collide.
 */
export const DEFAULT_SCHEDULER_METRICS_PORT = 9090;
/**
 * Metrics port of the embedded default's scheduler: 0, any free port (logged), so `npm start`
 * never fails because something else on the machine (Prometheus itself, say) holds 9090.
 */
export const DEFAULT_EMBEDDED_METRICS_PORT = 0;
/** Heartbeat period of workers (ms): frequent enough to drop a dead worker within seconds. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1_000;
/**
 * A worker silent for this long (ms) is dropped and its work redone. Dask's default is 5 min
 * (worker-ttl); ours is short because our heartbeats do not share a thread with the kernels.
 */
export const DEFAULT_WORKER_TIMEOUT_MS = 10_000;
/** Share of the machine's memory one worker process may use when no limit is configured. */
export const DEFAULT_WORKER_MEMORY_FRACTION = 0.8;
/** Address the embedded default and local roles bind to: loopback only unless told otherwise. */
export const DEFAULT_BIND_HOST = '127.0.0.1';
/**
 * How long a signed result link stays valid (s): a week, long enough to share a result with a
 * colleague, short enough that a leaked link does not grant access forever.
 */
export const DEFAULT_RESULT_LINK_LIFETIME_SECONDS = 7 * 24 * 3600;
/** How often the API checks queued and running jobs against the scheduler (ms). */
export const DEFAULT_JOB_RECONCILE_INTERVAL_MS = 5_000;
/**
 * A queued or running job the scheduler does not know for this long (ms) was lost (the scheduler
 * restarted): it is submitted again once, or ends as `error`. Long enough to cover a submission
 * in flight.
 */
export const DEFAULT_JOB_LOST_GRACE_MS = 15_000;
/**
 * Queued and running jobs end as `error` when the scheduler has not answered for this long (ms):
 * a minute covers a scheduler restart on Kubernetes; beyond it the cluster is down.
 */
export const DEFAULT_SCHEDULER_UNREACHABLE_LIMIT_MS = 60_000;

/**
 * A synchronous request (POST /result) waits this long (ms) before it is canceled with
 * `RequestTimeout`: five minutes, within what HTTP clients and proxies keep a request open.
 */
export const DEFAULT_SYNC_TIMEOUT_MS = 5 * 60_000;
/**
 * Synchronous requests estimated to take longer than this (s) on the cluster are refused with
 * `ProcessGraphComplexity` up front, rather than time out: they belong in a batch job.
 */
export const DEFAULT_SYNC_MAX_ESTIMATED_SECONDS = 120;
/** Synchronous results larger than this (bytes, estimated upper limit) are refused: 1 GiB. */
export const DEFAULT_SYNC_MAX_RESULT_BYTES = 1024 ** 3;

export const ENVIRONMENT_VARIABLES = [
  'PORT',
  'DATA_DIR',
  'NATS_URL',
  'SCHEDULER_ADDRESS',
  'SCHEDULER_HOST',
  'SCHEDULER_PORT',
  'SCHEDULER_METRICS_PORT',
  'SCHEDULER_VALIDATE',
  'WORKERS',
  'WORKER_HOST',
  'WORKER_ADVERTISE_HOST',
  'WORKER_PORT',
  'WORKER_THREADS',
  'WORKER_MEMORY_LIMIT',
  'WORKER_NAME',
  'WORKER_METRICS_PORT',
  'WORKER_SPILL_DIR',
  'HEARTBEAT_INTERVAL_MS',
  'WORKER_TIMEOUT_MS',
  'API_HOST',
  'API_METRICS_PORT',
  'PUBLIC_URL',
  'ACCOUNTS_FILE',
  'ACCOUNTS',
  'RESULT_SIGNING_KEY',
  'LOG_LEVEL',
  'SAMPLE_DATA',
  'RESULT_LINK_LIFETIME_SECONDS',
  'JOB_RECONCILE_INTERVAL_MS',
  'JOB_LOST_GRACE_MS',
  'SCHEDULER_UNREACHABLE_LIMIT_MS',
  'SYNC_TIMEOUT_MS',
  'SYNC_MAX_ESTIMATED_SECONDS',
  'SYNC_MAX_RESULT_BYTES',
  'INGEST_AUTH',
  'INGEST_CACHE_DIR',
  'INGEST_CONCURRENCY',
  'INGEST_RETRY_DELAY_MS',
] as const;

export type EnvironmentVariable = (typeof ENVIRONMENT_VARIABLES)[number];
type Env = Partial<Record<string, string | undefined>>;

function readInt(env: Env, name: EnvironmentVariable, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new ConfigError(name, `expected an integer >= ${min}, got "${raw}"`);
  return value;
}

/** Parses sizes like `4GiB`, `512MB`, `2e9`. */
export function parseBytes(name: string, raw: string): number {
  const match = /^\s*([0-9.e+]+)\s*([kmgt]?i?b?)?\s*$/i.exec(raw);
  if (!match) throw new ConfigError(name, `expected a size like 4GiB or 512MB, got "${raw}"`);
  const value = Number(match[1]);
  const unit = (match[2] ?? '').toLowerCase().replace(/b$/, '');
  const factors: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, ki: 1024, mi: 1024 ** 2, gi: 1024 ** 3, ti: 1024 ** 4 };
  const factor = factors[unit];
  if (!Number.isFinite(value) || factor === undefined) throw new ConfigError(name, `expected a size like 4GiB or 512MB, got "${raw}"`);
  return Math.round(value * factor);
}

export interface CommonConfig {
  dataDir: string;
  natsUrl: string | null;
  heartbeatIntervalMs: number;
}

function commonConfig(env: Env): CommonConfig {
  return {
    dataDir: resolve(env.DATA_DIR || DEFAULT_DATA_DIR),
    natsUrl: env.NATS_URL || null,
    heartbeatIntervalMs: readInt(env, 'HEARTBEAT_INTERVAL_MS', DEFAULT_HEARTBEAT_INTERVAL_MS, 50),
  };
}

export interface SchedulerConfig extends CommonConfig {
  host: string;
  port: number;
  metricsPort: number;
  workerTimeoutMs: number;
  /** Check the state machine's invariants after every stimulus: slow, for tests and debugging. */
  validate: boolean;
}

export function schedulerConfig(env: Env = process.env): SchedulerConfig {
  return {
    ...commonConfig(env),
    host: env.SCHEDULER_HOST || DEFAULT_BIND_HOST,
    port: readInt(env, 'SCHEDULER_PORT', DEFAULT_SCHEDULER_PORT, 0),
    metricsPort: readInt(env, 'SCHEDULER_METRICS_PORT', DEFAULT_SCHEDULER_METRICS_PORT, 0),
    workerTimeoutMs: readInt(env, 'WORKER_TIMEOUT_MS', DEFAULT_WORKER_TIMEOUT_MS, 100),
    validate: env.SCHEDULER_VALIDATE === '1',
  };
}

export interface WorkerConfig extends CommonConfig {
  schedulerAddress: string;
  host: string;
  /** Host peers use to reach this worker (the pod IP on Kubernetes). */
  advertiseHost: string;
  port: number;
  threads: number;
  memoryLimit: number;
  name: string | null;
  metricsPort: number | null;
  /** Local disk for spilled chunks (fast, not shared): the system temp dir unless set. */
  spillDir: string;
}

export function workerConfig(env: Env = process.env): WorkerConfig {
  const host = env.WORKER_HOST || DEFAULT_BIND_HOST;
  const advertiseHost = env.WORKER_ADVERTISE_HOST || (host === '0.0.0.0' || host === '::' ? DEFAULT_BIND_HOST : host);
  return {
    ...commonConfig(env),
    schedulerAddress: env.SCHEDULER_ADDRESS || `${DEFAULT_BIND_HOST}:${DEFAULT_SCHEDULER_PORT}`,
    host,
    advertiseHost,
    port: readInt(env, 'WORKER_PORT', DEFAULT_WORKER_PORT, 0),
    threads: readInt(env, 'WORKER_THREADS', availableParallelism(), 1),
    memoryLimit: env.WORKER_MEMORY_LIMIT ? parseBytes('WORKER_MEMORY_LIMIT', env.WORKER_MEMORY_LIMIT) : Math.floor(totalmem() * DEFAULT_WORKER_MEMORY_FRACTION),
    name: env.WORKER_NAME || null,
    metricsPort: env.WORKER_METRICS_PORT ? readInt(env, 'WORKER_METRICS_PORT', 0, 0) : null,
    spillDir: resolve(env.WORKER_SPILL_DIR || tmpdir()),
  };
}

export interface ApiConfig extends CommonConfig {
  host: string;
  port: number;
  /** Port of the API's Prometheus metrics (kept off the public port); null serves none. */
  metricsPort: number | null;
  schedulerAddress: string;
  /** Base URL clients reach the API at (for links); derived from the request when unset. */
  publicUrl: string | null;
  accountsFile: string | null;
  /** Inline accounts `user:password,user2:password2` (tests, small deployments). */
  accounts: string | null;
  resultSigningKey: string | null;
  sampleData: boolean;
  resultLinkLifetimeSeconds: number;
  jobReconcileIntervalMs: number;
  jobLostGraceMs: number;
  schedulerUnreachableLimitMs: number;
  syncTimeoutMs: number;
  syncMaxEstimatedSeconds: number;
  syncMaxResultBytes: number;
}

export function apiConfig(env: Env = process.env): ApiConfig {
  return {
    ...commonConfig(env),
    host: env.API_HOST || '0.0.0.0',
    port: readInt(env, 'PORT', DEFAULT_PORT, 0),
    metricsPort: env.API_METRICS_PORT ? readInt(env, 'API_METRICS_PORT', 0, 0) : null,
    schedulerAddress: env.SCHEDULER_ADDRESS || `${DEFAULT_BIND_HOST}:${DEFAULT_SCHEDULER_PORT}`,
    publicUrl: env.PUBLIC_URL || null,
    accountsFile: env.ACCOUNTS_FILE || null,
    accounts: env.ACCOUNTS || null,
    resultSigningKey: env.RESULT_SIGNING_KEY || null,
    sampleData: env.SAMPLE_DATA !== '0',
    resultLinkLifetimeSeconds: readInt(env, 'RESULT_LINK_LIFETIME_SECONDS', DEFAULT_RESULT_LINK_LIFETIME_SECONDS, 1),
    jobReconcileIntervalMs: readInt(env, 'JOB_RECONCILE_INTERVAL_MS', DEFAULT_JOB_RECONCILE_INTERVAL_MS, 100),
    jobLostGraceMs: readInt(env, 'JOB_LOST_GRACE_MS', DEFAULT_JOB_LOST_GRACE_MS, 0),
    schedulerUnreachableLimitMs: readInt(env, 'SCHEDULER_UNREACHABLE_LIMIT_MS', DEFAULT_SCHEDULER_UNREACHABLE_LIMIT_MS, 1_000),
    syncTimeoutMs: readInt(env, 'SYNC_TIMEOUT_MS', DEFAULT_SYNC_TIMEOUT_MS, 1_000),
    syncMaxEstimatedSeconds: readInt(env, 'SYNC_MAX_ESTIMATED_SECONDS', DEFAULT_SYNC_MAX_ESTIMATED_SECONDS, 1),
    syncMaxResultBytes: env.SYNC_MAX_RESULT_BYTES ? parseBytes('SYNC_MAX_RESULT_BYTES', env.SYNC_MAX_RESULT_BYTES) : DEFAULT_SYNC_MAX_RESULT_BYTES,
  };
}

export interface EmbeddedConfig {
  api: ApiConfig;
  scheduler: SchedulerConfig;
  workers: number;
  workerThreads: number;
}

/** The embedded default: API, scheduler and WORKERS worker processes (one per core) on loopback. */
export function embeddedConfig(env: Env = process.env): EmbeddedConfig {
  return {
    api: apiConfig(env),
    scheduler: {
      ...schedulerConfig(env),
      host: DEFAULT_BIND_HOST,
      port: readInt(env, 'SCHEDULER_PORT', 0, 0),
      metricsPort: readInt(env, 'SCHEDULER_METRICS_PORT', DEFAULT_EMBEDDED_METRICS_PORT, 0),
    },
    workers: readInt(env, 'WORKERS', availableParallelism(), 1),
    workerThreads: readInt(env, 'WORKER_THREADS', 1, 1),
  };
}

/**
 * Files the ingest command downloads at once: 4. Enough to hide per-request latency of a
 * distant server, few enough not to be throttled by providers that limit parallel requests
 * per client (NOAA's servers do).
 */
export const DEFAULT_INGEST_CONCURRENCY = 4;

/** An Authorization header value the ingest command sends to one host, and only to it. */
export interface IngestCredential {
  /** `host` or `host:port`, lower case; without a port it matches any port of the host. */
  host: string;
  /** Header value: `Bearer …` or `Basic …`. Never logged or written anywhere. */
  authorization: string;
}

/**
 * Delay before the first retry of a failed download, doubling with each further one: 1000 ms,
 * long enough for a restarted server or a reset load balancer.
 */
export const DEFAULT_INGEST_RETRY_DELAY_MS = 1_000;

export interface IngestConfig {
  dataDir: string;
  retryDelayMs: number;
  /** Where downloaded NetCDF files are kept for later runs; null = removed once converted. */
  cacheDir: string | null;
  credentials: IngestCredential[];
  concurrency: number;
}

/**
 * Parses INGEST_AUTH: whitespace-separated `HOST=bearer:TOKEN` or `HOST=basic:USER:PASSWORD`
 * entries (percent-encode a space or colon inside USER). Messages never repeat the secrets.
 */
export function parseIngestCredentials(raw: string): IngestCredential[] {
  const credentials: IngestCredential[] = [];
  const entries = raw.split(/\s+/).filter((entry) => entry !== '');
  entries.forEach((entry, index) => {
    const fail = (why: string): never => {
      throw new ConfigError('INGEST_AUTH', `entry ${index + 1} ${why}; expected HOST=bearer:TOKEN or HOST=basic:USER:PASSWORD`);
    };
    const equals = entry.indexOf('=');
    if (equals <= 0) fail('has no HOST=');
    const host = entry.slice(0, equals).toLowerCase();
    if (!/^[a-z0-9.-]+(:\d+)?$/.test(host) && !/^\[[0-9a-f:.]+\](:\d+)?$/.test(host)) fail(`has an invalid host "${host}"`);
    const value = entry.slice(equals + 1);
    const colon = value.indexOf(':');
    const scheme = colon < 0 ? '' : value.slice(0, colon).toLowerCase();
    const secret = value.slice(colon + 1);
    const decode = (text: string): string => {
      try {
        return decodeURIComponent(text);
      } catch {
        return fail('has invalid percent-encoding');
      }
    };
    if (scheme === 'bearer') {
      if (secret === '') fail('has an empty token');
      credentials.push({ host, authorization: `Bearer ${decode(secret)}` });
    } else if (scheme === 'basic') {
      const separator = secret.indexOf(':');
      if (separator <= 0) fail('has no USER:PASSWORD');
      const user = decode(secret.slice(0, separator));
      const password = decode(secret.slice(separator + 1));
      credentials.push({ host, authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
    } else {
      fail('names no scheme (bearer or basic)');
    }
  });
  return credentials;
}

/** The ingest command: where it writes, which hosts get credentials, how many downloads run at once. */
export function ingestConfig(env: Env = process.env): IngestConfig {
  return {
    dataDir: resolve(env.DATA_DIR || DEFAULT_DATA_DIR),
    cacheDir: env.INGEST_CACHE_DIR ? resolve(env.INGEST_CACHE_DIR) : null,
    credentials: env.INGEST_AUTH ? parseIngestCredentials(env.INGEST_AUTH) : [],
    concurrency: readInt(env, 'INGEST_CONCURRENCY', DEFAULT_INGEST_CONCURRENCY, 1),
    retryDelayMs: readInt(env, 'INGEST_RETRY_DELAY_MS', DEFAULT_INGEST_RETRY_DELAY_MS, 0),
  };
}
