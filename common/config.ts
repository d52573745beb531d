import { availableParallelism, totalmem } from 'node:os';
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
/** Prometheus metrics port of the scheduler (and of each worker when WORKER_METRICS_PORT is set). */
export const DEFAULT_SCHEDULER_METRICS_PORT = 9090;
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
  'HEARTBEAT_INTERVAL_MS',
  'WORKER_TIMEOUT_MS',
  'API_HOST',
  'PUBLIC_URL',
  'ACCOUNTS_FILE',
  'ACCOUNTS',
  'RESULT_SIGNING_KEY',
  'LOG_LEVEL',
  'SAMPLE_DATA',
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
  };
}

export interface ApiConfig extends CommonConfig {
  host: string;
  port: number;
  schedulerAddress: string;
  /** Base URL clients reach the API at (for links); derived from the request when unset. */
  publicUrl: string | null;
  accountsFile: string | null;
  /** Inline accounts `user:password,user2:password2` (tests, small deployments). */
  accounts: string | null;
  resultSigningKey: string | null;
  sampleData: boolean;
}

export function apiConfig(env: Env = process.env): ApiConfig {
  return {
    ...commonConfig(env),
    host: env.API_HOST || '0.0.0.0',
    port: readInt(env, 'PORT', DEFAULT_PORT, 0),
    schedulerAddress: env.SCHEDULER_ADDRESS || `${DEFAULT_BIND_HOST}:${DEFAULT_SCHEDULER_PORT}`,
    publicUrl: env.PUBLIC_URL || null,
    accountsFile: env.ACCOUNTS_FILE || null,
    accounts: env.ACCOUNTS || null,
    resultSigningKey: env.RESULT_SIGNING_KEY || null,
    sampleData: env.SAMPLE_DATA !== '0',
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
    scheduler: { ...schedulerConfig(env), host: DEFAULT_BIND_HOST, port: readInt(env, 'SCHEDULER_PORT', 0, 0) },
    workers: readInt(env, 'WORKERS', availableParallelism(), 1),
    workerThreads: readInt(env, 'WORKER_THREADS', 1, 1),
  };
}
