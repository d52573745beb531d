import type { Context } from 'koa';
import type { ApiConfig } from '../../common/config.js';
import type { Catalog } from '../../ingest/catalog.js';
import type { Accounts } from '../auth/accounts.js';
import type { TokenSigner } from '../auth/tokens.js';
import type { JobService } from '../jobs/job-service.js';
import type { SyncProcessor } from '../jobs/sync-processor.js';
import type { ProcessRegistry } from '../processes/registry.js';
import type { ResultLinks } from './result-links.js';

/** What the route handlers need. */
export interface ApiContext {
  config: ApiConfig;
  catalog: Catalog;
  registry: ProcessRegistry;
  jobs: JobService;
  sync: SyncProcessor;
  accounts: Accounts;
  tokens: TokenSigner;
  links: ResultLinks;
  version: string;
}

/** The URL clients reach the API at: PUBLIC_URL, or what this request came in on. */
export function baseUrl(api: ApiContext, ctx: Context): string {
  // Koa 3's ctx.origin is the Origin request header; the base URL is protocol and Host.
  return (api.config.publicUrl ?? `${ctx.protocol}://${ctx.host}`).replace(/\/$/, '');
}
