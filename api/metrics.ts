import type Koa from 'koa';
import { Gauge, Histogram, type Registry } from 'prom-client';
import { describeError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { createRegistry, type MetricsServer, startMetricsServer } from '../common/metrics.js';
import type { JobStatus } from './jobs/job-record.js';
import type { JobStore } from './jobs/job-store.js';

/**
 * Upper bounds (s) of the request-latency buckets: from a 5 ms capabilities answer to a 30 s result
 * download, roughly ×2.5 apart so quantiles stay meaningful across that range.
 */
export const HTTP_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/**
 * Job counts are recounted at most this often (ms): counting reads every job record (a JetStream
 * key-value read each), too much for every scrape of every replica; Prometheus scrapes every 15–60 s.
 */
export const JOB_COUNTS_MAX_AGE_MS = 10_000;
/** Route label of requests no route matched (404s, CORS preflights): one series, not one per URL. */
export const UNMATCHED_ROUTE = 'unmatched';

const JOB_STATUSES = ['created', 'queued', 'running', 'canceled', 'finished', 'error'] as const satisfies readonly JobStatus[];

/** Request latency of the API; one per process, registered in the API's registry. */
export const httpRequestDuration = new Histogram({
  name: 'openeo_api_http_request_duration_seconds',
  help: 'Latency of HTTP requests to the openEO API, by method, route pattern and status',
  labelNames: ['method', 'route', 'status'],
  buckets: HTTP_LATENCY_BUCKETS,
  registers: [],
});

/**
 * Times every request, labelled with the route pattern (`/jobs/:job_id`), never the raw URL, so
 * job ids do not become series. Goes first, so error answers are timed too.
 */
export function httpLatency(): Koa.Middleware {
  return async (ctx, next) => {
    const end = httpRequestDuration.startTimer();
    try {
      await next();
    } finally {
      const matched = (ctx as { _matchedRoute?: string | RegExp })._matchedRoute;
      end({ method: ctx.method, route: matched === undefined ? UNMATCHED_ROUTE : String(matched), status: String(ctx.status) });
    }
  };
}

/** The API's metrics: request latency and jobs by status (of every job in the shared store). */
export function apiRegistry(store: Pick<JobStore, 'all'>, logger: Logger): Registry {
  const registry = createRegistry('api');
  registry.registerMetric(httpRequestDuration);
  let counts = new Map<string, number>();
  let countedAt = -Infinity;
  new Gauge({
    name: 'openeo_api_jobs',
    help: 'Batch jobs by status (all users; every API replica reports the same totals)',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      if (performance.now() - countedAt >= JOB_COUNTS_MAX_AGE_MS) {
        try {
          const fresh = new Map<string, number>(JOB_STATUSES.map((s) => [s, 0]));
          for (const record of await store.all()) fresh.set(record.status, (fresh.get(record.status) ?? 0) + 1);
          counts = fresh;
          countedAt = performance.now();
        } catch (error) {
          // Keep the last counts: a job store hiccup should not fail the whole scrape.
          logger.warn({ error: describeError(error) }, 'cannot count jobs for metrics');
        }
      }
      for (const [status, count] of counts) this.set({ status }, count);
    },
  });
  return registry;
}

/** Serves the API's metrics on their own port, away from the public API port. */
export function startApiMetrics(store: Pick<JobStore, 'all'>, address: { host: string; port: number }, logger: Logger): Promise<MetricsServer> {
  return startMetricsServer(apiRegistry(store, logger), address, logger);
}
