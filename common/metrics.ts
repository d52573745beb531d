import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { describeError } from './errors.js';
import type { Logger } from './logger.js';

/** Path Prometheus scrapes: its default `metrics_path`, so scrape configs need no override. */
export const METRICS_PATH = '/metrics';
/** Prefix of every metric this service defines, so they are easy to find among other exporters'. */
export const METRIC_PREFIX = 'openeo_';

/**
 * A fresh registry for one component, with Node's process metrics (CPU, RSS, heap, event-loop lag)
 * under the component's prefix. One registry per component: the embedded default runs the API and
 * the scheduler in one process and each keeps its own metric names.
 */
export function createRegistry(component: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: `${METRIC_PREFIX}${component}_` });
  return registry;
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `registry` at METRICS_PATH over plain HTTP on its own port, apart from any public port,
 * so metrics stay inside the cluster. Port 0 picks a free port.
 */
export async function startMetricsServer(registry: Registry, address: { host: string; port: number }, logger: Logger): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== METRICS_PATH || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end(`metrics are at ${METRICS_PATH}\n`);
      return;
    }
    registry.metrics().then(
      (text) => {
        response.writeHead(200, { 'Content-Type': registry.contentType });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        logger.warn({ error: describeError(error) }, 'metrics collection failed');
        response.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics collection failed\n');
      },
    );
  });
  server.listen(address.port, address.host);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([error]) => {
      throw new MetricsServerError(`cannot serve metrics on ${address.host}:${address.port}`, error);
    }),
  ]);
  const port = (server.address() as AddressInfo).port;
  logger.info({ host: address.host, port, path: METRICS_PATH }, 'metrics listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The metrics port could not be opened (taken, or not allowed). */
export class MetricsServerError extends Error {
  readonly code = 'MetricsServerUnavailable';
  constructor(message: string, cause: unknown) {
    super(`${message}: ${describeError(cause)}`, { cause });
    this.name = 'MetricsServerError';
  }
}
