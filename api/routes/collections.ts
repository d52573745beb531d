import { OpenEOError } from '../../common/errors.js';
import type { CollectionRecord } from '../../ingest/catalog.js';
import { type ApiContext, baseUrl } from './api-context.js';
import type { EndpointRegistry } from './endpoint-registry.js';

function withLinks(record: CollectionRecord, base: string): Record<string, unknown> {
  const own = Array.isArray(record.stac.links) ? (record.stac.links as unknown[]) : [];
  return {
    ...record.stac,
    links: [
      ...own,
      { rel: 'self', href: `${base}/collections/${record.id}`, type: 'application/json' },
      { rel: 'root', href: `${base}/`, type: 'application/json' },
      { rel: 'parent', href: `${base}/collections`, type: 'application/json' },
    ],
  };
}

export function registerCollections(api: ApiContext, endpoints: EndpointRegistry): void {
  endpoints.add('GET', '/collections', async (ctx) => {
    const base = baseUrl(api, ctx);
    const records = await api.catalog.list();
    ctx.body = { collections: records.map((r) => withLinks(r, base)), links: [{ rel: 'self', href: `${base}/collections` }] };
  });
  endpoints.add('GET', '/collections/{collection_id}', async (ctx) => {
    const id = ctx.params.collection_id!;
    const record = await api.catalog.get(id);
    if (!record) throw new OpenEOError('CollectionNotFound', `collection "${id}" does not exist; GET /collections lists the available ones`);
    ctx.body = withLinks(record, baseUrl(api, ctx));
  });
}
