import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { fetchJson, type HttpOptions } from './download/http-client.js';
import { redactUrl } from './download/credentials.js';
import { IngestError, isIngestError } from './ingest-error.js';
import { resolveHref, type StacItem } from './stac-items.js';

/**
 * Finds STAC items by area, time and cloud cover, wherever they are published:
 * - a STAC API (its landing page, or its `/search` endpoint): POST (or GET) `/search` with bbox,
 *   datetime, collections and an `eo:cloud_cover` query, following `next` links page by page;
 * - a static catalog or collection (over http(s) or on disk): its `item` and `child` links are
 *   followed, and the same filters are applied here;
 * - an ItemCollection document (what a search returns), filtered here.
 * Every item is also checked here against the filters, so a server that ignores one of them
 * (many ignore `query`) does not let other items through.
 */

/** Items asked for per search page: 100, the most common STAC API servers allow. */
export const STAC_PAGE_LIMIT = 100;

/** Pages followed at most: 10,000 (a million items at full pages), a guard against a server whose `next` never ends. */
export const STAC_MAX_PAGES = 10_000;

/** Item documents of a static catalog fetched at once: 8, to walk a large catalog in reasonable time without hammering its host. */
export const STATIC_ITEM_FETCH_CONCURRENCY = 8;

/** Conformance class of STAC API - Item Search. */
const ITEM_SEARCH_CONFORMANCE = /stac-api\/[^/]+\/item-search$/;

export type Bbox = [number, number, number, number];

export interface StacQuery {
  /** STAC API root, its `/search` URL, or a static catalog / collection / item collection (URL or path). */
  source: string;
  /** Collection searched for; for static catalogs, items of another collection are skipped. Null: any. */
  collection: string | null;
  /** [west, south, east, north] in degrees; null: anywhere. */
  bbox: Bbox | null;
  /** Inclusive ISO instants; null: open. */
  from: string | null;
  to: string | null;
  /** Highest `eo:cloud_cover` in percent; null: any. */
  maxCloudCover: number | null;
}

export interface FoundItem {
  item: StacItem;
  /** The document the item came from, which its relative hrefs are relative to. */
  location: string;
}

export interface StacSearchOptions extends HttpOptions {
  /** Told about things worth knowing (a filter the server refused, items skipped). */
  note?: (message: string) => void;
  pageLimit?: number;
}

interface StacLink {
  rel?: string;
  href?: string;
  type?: string;
  method?: string;
  body?: Record<string, unknown>;
  merge?: boolean;
}

interface StacDocument {
  type?: string;
  id?: string;
  conformsTo?: string[];
  links?: StacLink[];
  features?: unknown[];
}

/** The items the query selects, each once, in the order the source lists them. */
export async function* searchStac(query: StacQuery, options: StacSearchOptions = {}): AsyncGenerator<FoundItem> {
  const seen = new Set<string>();
  for await (const found of rawItems(query, options)) {
    if (seen.has(found.item.id)) continue;
    if (!matchesQuery(found.item, query)) continue;
    seen.add(found.item.id);
    yield found;
  }
}

async function* rawItems(query: StacQuery, options: StacSearchOptions): AsyncGenerator<FoundItem> {
  const { source } = query;
  if (isHttp(source) && /\/search\/?$/.test(new URL(source).pathname)) {
    yield* searchApi(source, 'POST', query, options);
    return;
  }
  const document = await readDocument(source, options);
  if (document.type === 'FeatureCollection') {
    yield* itemCollectionPages(source, document, options);
    return;
  }
  if (document.type === 'Feature') {
    yield { item: asItem(document, source), location: source };
    return;
  }
  const search = (document.links ?? []).filter((link) => link.rel === 'search' && link.href && (!link.type || /json/.test(link.type)));
  const conformsToSearch = (document.conformsTo ?? []).some((c) => ITEM_SEARCH_CONFORMANCE.test(c));
  if (search.length > 0 || conformsToSearch) {
    const post = search.find((link) => (link.method ?? 'GET').toUpperCase() === 'POST');
    const link = post ?? search[0];
    const url = link ? resolveHref(link.href!, source) : new URL('search', source.endsWith('/') ? source : `${source}/`).toString();
    yield* searchApi(url, post || !link ? 'POST' : 'GET', query, options);
    return;
  }
  if (document.type === 'Catalog' || document.type === 'Collection') {
    yield* walkStatic(source, document, query, options);
    return;
  }
  throw new IngestError('invalid-data', `${describe(source)} is not a STAC API, catalog, collection or item collection (type "${document.type ?? 'none'}")`);
}

// ---------------------------------------------------------------------------------------------
// STAC API

async function* searchApi(url: string, method: 'GET' | 'POST', query: StacQuery, options: StacSearchOptions): AsyncGenerator<FoundItem> {
  let body = searchBody(query, options.pageLimit ?? STAC_PAGE_LIMIT);
  let pageUrl = method === 'GET' ? withParameters(url, body) : url;
  let pageMethod = method;
  const visited = new Set<string>();
  for (let page = 0; page < STAC_MAX_PAGES; page++) {
    const key = `${pageMethod} ${pageUrl} ${pageMethod === 'POST' ? JSON.stringify(body) : ''}`;
    if (visited.has(key)) return;
    visited.add(key);
    let document: StacDocument;
    try {
      document = asDocument(await fetchJson(pageUrl, options, pageMethod === 'POST' ? { method: 'POST', body } : {}), pageUrl);
    } catch (error) {
      if (page === 0 && isIngestError(error) && error.status === 405 && pageMethod === 'POST') {
        options.note?.(`${redactUrl(url)} does not accept POST; searching with GET`);
        pageMethod = 'GET';
        pageUrl = withParameters(url, body);
        visited.clear();
        page--;
        continue;
      }
      if (page === 0 && isIngestError(error) && error.status === 400 && 'query' in body) {
        // A server without the query extension: the cloud cover is filtered here instead.
        options.note?.(`${redactUrl(url)} refused the eo:cloud_cover query; filtering cloud cover locally`);
        body = { ...body };
        delete body.query;
        pageUrl = pageMethod === 'GET' ? withParameters(url, body) : url;
        visited.clear();
        page--;
        continue;
      }
      throw error;
    }
    if (!Array.isArray(document.features)) throw new IngestError('invalid-data', `${redactUrl(pageUrl)}: the search answer has no "features"`);
    for (const feature of document.features) yield { item: asItem(feature, pageUrl), location: pageUrl };
    const next = (document.links ?? []).find((link) => link.rel === 'next' && link.href);
    if (!next || document.features.length === 0) return;
    const nextUrl = resolveHref(next.href!, pageUrl);
    if ((next.method ?? 'GET').toUpperCase() === 'POST') {
      pageMethod = 'POST';
      body = next.body ? (next.merge ? { ...body, ...next.body } : next.body) : body;
    } else {
      pageMethod = 'GET';
    }
    pageUrl = nextUrl;
  }
  throw new IngestError('invalid-data', `${redactUrl(url)}: more than ${STAC_MAX_PAGES} result pages; narrow the search`);
}

function searchBody(query: StacQuery, limit: number): Record<string, unknown> {
  const body: Record<string, unknown> = { limit };
  if (query.collection) body.collections = [query.collection];
  if (query.bbox) body.bbox = query.bbox;
  if (query.from || query.to) body.datetime = `${query.from ?? '..'}/${query.to ?? '..'}`;
  if (query.maxCloudCover !== null) body.query = { 'eo:cloud_cover': { lte: query.maxCloudCover } };
  return body;
}

/** The search as GET parameters (arrays comma-separated, objects as JSON), as STAC API - Item Search specifies. */
function withParameters(url: string, body: Record<string, unknown>): string {
  const target = new URL(url);
  for (const [name, value] of Object.entries(body)) {
    target.searchParams.set(name, Array.isArray(value) ? value.join(',') : typeof value === 'object' ? JSON.stringify(value) : String(value));
  }
  return target.toString();
}

// ---------------------------------------------------------------------------------------------
// Static catalogs and item collections

async function* itemCollectionPages(location: string, first: StacDocument, options: StacSearchOptions): AsyncGenerator<FoundItem> {
  let document = first;
  let url = location;
  const visited = new Set([location]);
  for (;;) {
    for (const feature of document.features ?? []) yield { item: asItem(feature, url), location: url };
    const next = (document.links ?? []).find((link) => link.rel === 'next' && link.href);
    if (!next) return;
    const nextUrl = resolveHref(next.href!, url);
    if (visited.has(nextUrl) || visited.size >= STAC_MAX_PAGES) return;
    visited.add(nextUrl);
    url = nextUrl;
    document = await readDocument(url, options);
  }
}

async function* walkStatic(root: string, rootDocument: StacDocument, query: StacQuery, options: StacSearchOptions): AsyncGenerator<FoundItem> {
  const visited = new Set<string>([root]);
  const pending: { location: string; document: StacDocument }[] = [{ location: root, document: rootDocument }];
  while (pending.length > 0) {
    const { location, document } = pending.shift()!;
    // A collection of another id is skipped whole when a collection was asked for.
    if (document.type === 'Collection' && query.collection && document.id && document.id !== query.collection && location !== root) continue;
    const links = document.links ?? [];
    const itemLocations = links.filter((link) => link.rel === 'item' && link.href).map((link) => resolveHref(link.href!, location));
    for (let i = 0; i < itemLocations.length; i += STATIC_ITEM_FETCH_CONCURRENCY) {
      const batch = itemLocations.slice(i, i + STATIC_ITEM_FETCH_CONCURRENCY).filter((l) => !visited.has(l));
      batch.forEach((l) => visited.add(l));
      const documents = await Promise.all(batch.map((l) => readDocument(l, options)));
      for (const [j, item] of documents.entries()) yield { item: asItem(item, batch[j]!), location: batch[j]! };
    }
    for (const link of links) {
      if (!link.href || (link.rel !== 'child' && link.rel !== 'items')) continue;
      const target = resolveHref(link.href, location);
      if (visited.has(target)) continue;
      visited.add(target);
      const child = await readDocument(target, options);
      if (child.type === 'FeatureCollection') yield* itemCollectionPages(target, child, options);
      else pending.push({ location: target, document: child });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Filters

/** Whether an item meets the query's bbox, time range, cloud cover and collection. */
export function matchesQuery(item: StacItem, query: StacQuery): boolean {
  const collection = (item as { collection?: unknown }).collection;
  if (query.collection && typeof collection === 'string' && collection !== query.collection) return false;
  if (query.bbox && item.bbox) {
    const [w, s, e, n] = query.bbox;
    const box = item.bbox as number[];
    // A 3-D bbox is [west, south, min height, east, north, max height].
    const [iw, is, ie, inorth] = box.length === 6 ? [box[0], box[1], box[3], box[4]] : box;
    if (iw! > e || ie! < w || is! > n || inorth! < s) return false;
  }
  if (query.from || query.to) {
    const properties = item.properties ?? {};
    const start = Date.parse(String(properties.start_datetime ?? properties.datetime ?? ''));
    const end = Date.parse(String(properties.end_datetime ?? properties.datetime ?? ''));
    if (Number.isNaN(start) || Number.isNaN(end)) return false;
    if (query.from && end < Date.parse(query.from)) return false;
    if (query.to && start > Date.parse(query.to)) return false;
  }
  if (query.maxCloudCover !== null) {
    const cover = item.properties?.['eo:cloud_cover'];
    if (typeof cover === 'number' && cover > query.maxCloudCover) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Documents

function isHttp(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

function describe(location: string): string {
  return isHttp(location) ? redactUrl(location) : location;
}

/** A JSON document from a URL or a file. */
export async function readDocument(location: string, options: HttpOptions): Promise<StacDocument> {
  if (isHttp(location)) return asDocument(await fetchJson(location, options), location);
  const path = location.startsWith('file:') ? fileURLToPath(location) : location;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT') throw new IngestError('not-found', `${path}: no such file`, { cause: error });
    if (code === 'EISDIR') throw new IngestError('invalid-data', `${path} is a folder; name its catalog.json or collection.json`, { cause: error });
    throw new IngestError('storage', `${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return asDocument(JSON.parse(text), path);
  } catch (error) {
    if (error instanceof IngestError) throw error;
    throw new IngestError('invalid-data', `${path}: not JSON (${(error as Error).message})`, { cause: error });
  }
}

function asDocument(value: unknown, location: string): StacDocument {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new IngestError('invalid-data', `${describe(location)}: not a STAC document (expected a JSON object)`);
  }
  return value as StacDocument;
}

function asItem(value: unknown, location: string): StacItem {
  const item = value as Partial<StacItem> | null;
  if (typeof item !== 'object' || item === null || typeof item.id !== 'string' || typeof item.assets !== 'object' || item.assets === null) {
    throw new IngestError('invalid-data', `${describe(location)}: a feature without an id or assets is not a STAC item`);
  }
  return { ...item, properties: item.properties ?? {} } as StacItem;
}
