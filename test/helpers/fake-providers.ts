import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { sharedPath } from './shared.js';

/**
 * The data providers, played on 127.0.0.1 from the fixture files in ../shared/fixtures:
 * - a STAC API per layout at /stac/<earth-search|cdse>: a landing page and /search (GET and POST)
 *   answering from s2/<layout>/items.json with bbox, datetime, collections and eo:cloud_cover
 *   (`query` extension) filters, pages of `limit` items linked by `next` (a token), and asset
 *   hrefs made absolute, as live APIs serve them;
 * - the files themselves under /files/ (the COGs, the static catalogs, the NetCDF files), NOAA
 *   PSL's flat folder at /psl/ and NCEI's YYYYMM/ folders at /ncei/, with HTTP Range, ETag,
 *   Last-Modified and If-Range;
 * - faults injected per path: the connection cut after some bytes, an error status, a
 *   required Authorization header.
 * Every request is recorded for the tests to inspect.
 */

export type StacLayout = 'earth-search' | 'cdse';

export interface RecordedRequest {
  method: string;
  path: string;
  range: string | null;
  ifRange: string | null;
  authorization: string | null;
  status: number;
  body: unknown;
}

/** Consumed in order by the requests to a path: cut the body after `cutAfter` bytes, answer `status`, or answer `delayMs` late. */
export type Fault = { cutAfter: number } | { status: number } | { delayMs: number };

export interface FakeProvidersOptions {
  /** Items added to a layout's search results and static catalog (e.g. in other UTM zones). */
  extraItems?: Partial<Record<StacLayout, Record<string, unknown>[]>>;
  /** Give assets a `file:checksum` (sha2-256 multihash) and `file:size` in search results. */
  checksums?: boolean;
  /** Answer 400 to searches with a `query` (a server without the query extension). */
  rejectQuery?: boolean;
  /** Highest page size the search honours (a server caps `limit`). */
  maxLimit?: number;
  /** Search only by GET: POST gets 405 and the landing page offers a GET search link only. */
  getOnly?: boolean;
}

export interface FakeProviders {
  url: string;
  stacApi(layout: StacLayout): string;
  /** The static catalog's collection.json over HTTP. */
  staticCollection(layout: StacLayout): string;
  pslBase: string;
  nceiBase: string;
  requests: RecordedRequest[];
  /** Adds faults for requests whose path ends with `pathSuffix`. */
  addFault(pathSuffix: string, ...faults: Fault[]): void;
  /** Drops the faults not consumed yet. */
  clearFaults(): void;
  /** Most file responses in progress at once since the last call (which starts a new count). */
  takePeakConcurrency(): number;
  /** Requests under `pathPrefix` without exactly this Authorization header get 401; returns the function that lifts it. */
  requireAuthorization(pathPrefix: string, header: string): () => void;
  /** Makes the file at `pathSuffix` answer as changed (a new ETag and Last-Modified). */
  changeValidator(pathSuffix: string): void;
  close(): Promise<void>;
}

const FIXTURES = (): string => sharedPath('fixtures');

interface ItemLike {
  id: string;
  bbox: number[];
  collection?: string;
  properties: Record<string, unknown>;
  assets: Record<string, { href: string; [key: string]: unknown }>;
  links?: unknown[];
}

export async function startFakeProviders(options: FakeProvidersOptions = {}): Promise<FakeProviders> {
  const requests: RecordedRequest[] = [];
  const faults: { suffix: string; faults: Fault[] }[] = [];
  const auth: { prefix: string; header: string }[] = [];
  const changed = new Set<string>();
  let base = '';
  let inFlight = 0;
  let peak = 0;

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(String(error));
      } else {
        res.destroy();
      }
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', base);
    const bodyText = await readBody(req);
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      range: header(req, 'range'),
      ifRange: header(req, 'if-range'),
      authorization: header(req, 'authorization'),
      status: 0,
      body: bodyText ? safeJson(bodyText) : null,
    };
    requests.push(record);
    const send = (status: number, body: string | Buffer, headers: Record<string, string> = {}): void => {
      record.status = status;
      res.writeHead(status, { 'Content-Length': String(Buffer.byteLength(body)), ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const json = (status: number, value: unknown, type = 'application/json'): void => send(status, JSON.stringify(value), { 'Content-Type': type });

    const required = auth.find((a) => url.pathname.startsWith(a.prefix));
    if (required && record.authorization !== required.header) {
      json(401, { code: 'Unauthorized', message: 'credentials required' });
      return;
    }
    const fault = takeFault(url.pathname);
    if (fault && 'status' in fault) {
      json(fault.status, { code: 'Injected', message: `injected ${fault.status}` });
      return;
    }

    const stac = /^\/stac\/(earth-search|cdse)\/?(search)?$/.exec(url.pathname);
    if (stac) {
      const layout = stac[1] as StacLayout;
      if (!stac[2]) {
        json(200, landingPage(layout));
        return;
      }
      if (req.method !== 'GET' && (req.method !== 'POST' || options.getOnly)) {
        json(405, { code: 'MethodNotAllowed' });
        return;
      }
      const parameters = req.method === 'POST' ? ((safeJson(bodyText) as Record<string, unknown>) ?? {}) : getParameters(url);
      if (options.rejectQuery && parameters.query !== undefined) {
        json(400, { code: 'BadRequest', description: 'query extension not supported' });
        return;
      }
      json(200, search(layout, parameters, req.method), 'application/geo+json');
      return;
    }

    const file = filePath(url.pathname);
    if (!file) {
      json(404, { code: 'NotFound', message: `no ${url.pathname}` });
      return;
    }
    await serveFile(req, res, record, file, url.pathname, fault);
  }

  function takeFault(path: string): Fault | undefined {
    const entry = faults.find((f) => path.endsWith(f.suffix) && f.faults.length > 0);
    return entry?.faults.shift();
  }

  function landingPage(layout: StacLayout): Record<string, unknown> {
    const root = `${base}/stac/${layout}`;
    return {
      type: 'Catalog',
      id: `fake-${layout}`,
      stac_version: '1.0.0',
      description: `STAC API over the ${layout} fixtures`,
      conformsTo: ['https://api.stacspec.org/v1.0.0/core', 'https://api.stacspec.org/v1.0.0/item-search'],
      links: [
        { rel: 'self', href: root, type: 'application/json' },
        { rel: 'root', href: root, type: 'application/json' },
        { rel: 'search', href: `${root}/search`, type: 'application/geo+json', method: 'GET' },
        ...(options.getOnly ? [] : [{ rel: 'search', href: `${root}/search`, type: 'application/geo+json', method: 'POST' }]),
      ],
    };
  }

  function layoutItems(layout: StacLayout): ItemLike[] {
    const location = join(FIXTURES(), 's2', layout, 'items.json');
    const collection = JSON.parse(readFileSync(location, 'utf8')) as { features: ItemLike[] };
    const documentUrl = `${base}/files/s2/${layout}/items.json`;
    const items = [...collection.features, ...((options.extraItems?.[layout] ?? []) as unknown as ItemLike[])];
    return items.map((item) => {
      const assets: ItemLike['assets'] = {};
      for (const [key, asset] of Object.entries(item.assets)) {
        const href = new URL(asset.href, documentUrl).toString();
        const extra: Record<string, unknown> = {};
        if (options.checksums) {
          const path = filePath(new URL(href).pathname);
          if (path) {
            extra['file:size'] = statSync(path).size;
            extra['file:checksum'] = `1220${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
          }
        }
        assets[key] = { ...asset, ...extra, href };
      }
      return { ...item, assets, links: [] };
    });
  }

  function search(layout: StacLayout, parameters: Record<string, unknown>, method: string): Record<string, unknown> {
    let items = layoutItems(layout);
    const collections = parameters.collections as string[] | undefined;
    if (collections?.length) items = items.filter((item) => item.collection === undefined || collections.includes(item.collection));
    const bbox = parameters.bbox as number[] | undefined;
    if (bbox) items = items.filter((item) => !(item.bbox[0]! > bbox[2]! || item.bbox[2]! < bbox[0]! || item.bbox[1]! > bbox[3]! || item.bbox[3]! < bbox[1]!));
    const datetime = parameters.datetime as string | undefined;
    if (datetime) {
      const [from, to] = datetime.includes('/') ? datetime.split('/') : [datetime, datetime];
      items = items.filter((item) => {
        const t = Date.parse(String(item.properties.datetime));
        return (from === '..' || !from || t >= Date.parse(from)) && (to === '..' || !to || t <= Date.parse(to));
      });
    }
    const query = parameters.query as Record<string, Record<string, number>> | undefined;
    const cloud = query?.['eo:cloud_cover'];
    if (cloud) {
      items = items.filter((item) => {
        const value = item.properties['eo:cloud_cover'] as number;
        return (cloud.lte === undefined || value <= cloud.lte) && (cloud.lt === undefined || value < cloud.lt) && (cloud.gte === undefined || value >= cloud.gte);
      });
    }
    const limit = Math.min(Number(parameters.limit ?? 10), options.maxLimit ?? Infinity);
    const offset = Number(parameters.token ?? 0);
    const page = items.slice(offset, offset + limit);
    const links: Record<string, unknown>[] = [];
    if (offset + limit < items.length) {
      const next = offset + limit;
      if (method === 'POST') links.push({ rel: 'next', href: `${base}/stac/${layout}/search`, method: 'POST', body: { token: String(next) }, merge: true, type: 'application/geo+json' });
      else {
        const target = new URL(`${base}/stac/${layout}/search`);
        for (const [name, value] of Object.entries(parameters)) target.searchParams.set(name, Array.isArray(value) ? value.join(',') : typeof value === 'object' ? JSON.stringify(value) : String(value));
        target.searchParams.set('token', String(next));
        links.push({ rel: 'next', href: target.toString(), type: 'application/geo+json' });
      }
    }
    return { type: 'FeatureCollection', features: page, numberMatched: items.length, numberReturned: page.length, links };
  }

  /** The fixture file behind a URL path, or null. */
  function filePath(pathname: string): string | null {
    let relative: string | null = null;
    const files = /^\/files\/(.+)$/.exec(pathname);
    const psl = /^\/psl\/(sst\.day\.mean\.\d{4}\.nc)$/.exec(pathname);
    const ncei = /^\/ncei\/(\d{6})\/(oisst-avhrr-v02r01\.(\d{6})\d{2}\.nc)$/.exec(pathname);
    if (files) relative = decodeURIComponent(files[1]!);
    else if (psl) relative = `oisst-psl/${psl[1]}`;
    else if (ncei && ncei[1] === ncei[3]) relative = `oisst-ncei/${ncei[2]}`;
    if (relative === null) return null;
    const path = normalize(join(FIXTURES(), relative));
    if (!path.startsWith(FIXTURES())) return null;
    try {
      return statSync(path).isFile() ? path : null;
    } catch {
      return null;
    }
  }

  async function serveFile(req: IncomingMessage, res: ServerResponse, record: RecordedRequest, path: string, pathname: string, fault: Fault | undefined): Promise<void> {
    inFlight++;
    peak = Math.max(peak, inFlight);
    res.once('close', () => inFlight--);
    if (fault && 'delayMs' in fault) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    const info = statSync(path);
    const version = [...changed].some((suffix) => pathname.endsWith(suffix)) ? 'v2' : 'v1';
    const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}-${version}"`;
    const lastModified = new Date(Math.floor(info.mtimeMs / 1000) * 1000 + (version === 'v2' ? 86_400_000 : 0)).toUTCString();
    const headers: Record<string, string> = {
      'Accept-Ranges': 'bytes',
      ETag: etag,
      'Last-Modified': lastModified,
      'Content-Type': path.endsWith('.json') ? 'application/json' : 'application/octet-stream',
    };
    let start = 0;
    let end = info.size - 1;
    let status = 200;
    const range = /^bytes=(\d+)-(\d*)$/.exec(record.range ?? '');
    const ifRange = record.ifRange;
    const rangeApplies = range && (ifRange === null || ifRange === etag || ifRange === lastModified);
    if (range && rangeApplies) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), info.size - 1) : info.size - 1;
      if (start >= info.size) {
        record.status = 416;
        res.writeHead(416, { 'Content-Range': `bytes */${info.size}`, 'Content-Length': '0' });
        res.end();
        return;
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${info.size}`;
    }
    const body = readFileSync(path).subarray(start, end + 1);
    headers['Content-Length'] = String(body.length);
    record.status = status;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (fault && 'cutAfter' in fault) {
      res.write(body.subarray(0, Math.min(fault.cutAfter, body.length)), () => {
        // Let the bytes reach the client, then drop the connection as a failing network would.
        setTimeout(() => res.socket?.destroy(), 20);
      });
      return;
    }
    res.end(body);
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    stacApi: (layout) => `${base}/stac/${layout}`,
    staticCollection: (layout) => `${base}/files/s2/${layout}/collection.json`,
    pslBase: `${base}/psl/`,
    nceiBase: `${base}/ncei/`,
    requests,
    addFault(pathSuffix, ...added) {
      faults.push({ suffix: pathSuffix, faults: [...added] });
    },
    clearFaults() {
      faults.length = 0;
    },
    takePeakConcurrency() {
      const value = peak;
      peak = inFlight;
      return value;
    },
    requireAuthorization(pathPrefix, value) {
      const entry = { prefix: pathPrefix, header: value };
      auth.push(entry);
      return () => {
        auth.splice(auth.indexOf(entry), 1);
      };
    },
    changeValidator(pathSuffix) {
      changed.add(pathSuffix);
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => undefined);
    },
  };
}

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return typeof value === 'string' ? value : null;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** GET search parameters as the POST body would carry them. */
function getParameters(url: URL): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of url.searchParams) {
    if (name === 'bbox') out.bbox = value.split(',').map(Number);
    else if (name === 'collections') out.collections = value.split(',');
    else if (name === 'query') out.query = safeJson(value);
    else out[name] = value;
  }
  return out;
}
