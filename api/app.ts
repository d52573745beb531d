import { bodyParser } from '@koa/bodyparser';
import cors from '@koa/cors';
import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from '../common/logger.js';
import { errorHandler } from './http/error-handler.js';
import { httpLatency } from './metrics.js';
import { registerAccount } from './routes/account.js';
import type { ApiContext } from './routes/api-context.js';
import { registerCapabilities } from './routes/capabilities.js';
import { registerCollections } from './routes/collections.js';
import { EndpointRegistry } from './routes/endpoint-registry.js';
import { registerJobs } from './routes/jobs.js';
import { registerProcesses } from './routes/processes.js';
import { registerSync } from './routes/sync.js';

/** Largest JSON request body: process graphs are small; anything bigger is a mistake or an attack. */
export const MAX_JSON_BODY = '10mb';

/** Headers browsers may read from responses (openEO API, CORS section). */
export const CORS_EXPOSED_HEADERS = ['Location', 'OpenEO-Identifier', 'OpenEO-Costs', 'Link', 'Content-Range', 'Content-Length'];

export function createApp(api: ApiContext, logger: Logger): Koa {
  const app = new Koa();
  app.proxy = true;
  const router = new Router();
  const endpoints = new EndpointRegistry(router);
  registerCapabilities(api, endpoints);
  registerCollections(api, endpoints);
  registerProcesses(api, endpoints);
  registerAccount(api, endpoints);
  registerJobs(api, endpoints);
  registerSync(api, endpoints);

  app.use(httpLatency());
  app.use(
    cors({
      // openEO requires the caller's origin (not *) together with credentials.
      origin: (ctx) => ctx.get('Origin') || '*',
      credentials: true,
      exposeHeaders: CORS_EXPOSED_HEADERS,
      allowHeaders: ['Authorization', 'Content-Type', 'Range'],
      allowMethods: ['OPTIONS', 'GET', 'POST', 'PATCH', 'PUT', 'DELETE'],
    }),
  );
  app.use(errorHandler(logger));
  app.use(bodyParser({ enableTypes: ['json'], jsonLimit: MAX_JSON_BODY, encoding: 'utf-8' }));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
