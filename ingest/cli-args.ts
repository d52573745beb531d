import { parseArgs } from 'node:util';
import { IngestError } from './ingest-error.js';
import type { OisstProduct } from './oisst-sources.js';
import type { Bbox } from './stac-search.js';

/** The ingest command line, parsed and checked; every mistake is a `usage` IngestError saying what is wrong. */

export const USAGE = `Usage: npm run ingest -- <command> [options]     (writes under DATA_DIR, default ./data)

  sentinel2 --stac URL --bbox W,S,E,N --from DATE --to DATE [--collection sentinel-2-l2a]
            [--max-cloud PERCENT] [--download] [--concurrency N]
      Sentinel-2 L2A items from a STAC API (its root or /search) or a static catalog/collection
      (URL or path) into collection SENTINEL2_L2A. Assets are registered where they are, or with
      --download copied into DATA_DIR/sentinel2.
  oisst --source psl --years 2012,2013 [--base-url URL] [--concurrency N]
  oisst --source ncei --from 2020-01-01 --to 2020-03-31 [--base-url URL] [--concurrency N]
      NOAA OISST v2.1 (PSL yearly or NCEI daily NetCDF files) into the Zarr cube DATA_DIR/oisst.zarr,
      collection OISST. --base-url defaults to NOAA's servers.
  local PATH [--download]
      A static STAC catalog/collection of COGs (its JSON, or a folder with catalog.json or
      collection.json), or a folder of OISST NetCDF files.

Environment: DATA_DIR; INGEST_AUTH="HOST=bearer:TOKEN HOST=basic:USER:PASSWORD" (credentials, sent only
to their host); INGEST_CACHE_DIR (keep downloaded NetCDF files there); INGEST_CONCURRENCY (downloads at
once, default 4); INGEST_RETRY_DELAY_MS (first retry delay, doubling, default 1000).`;

export type IngestCommand =
  | { kind: 'help' }
  | {
      kind: 'sentinel2';
      stac: string;
      collection: string | undefined;
      bbox: Bbox;
      from: string;
      to: string;
      maxCloudCover: number | null;
      download: boolean;
      concurrency: number | null;
    }
  | { kind: 'oisst'; product: OisstProduct; years: number[] | null; from: string | null; to: string | null; baseUrl: string | undefined; concurrency: number | null }
  | { kind: 'local'; path: string; download: boolean; concurrency: number | null };

const OPTIONS = {
  stac: { type: 'string' },
  collection: { type: 'string' },
  bbox: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  'max-cloud': { type: 'string' },
  download: { type: 'boolean' },
  source: { type: 'string' },
  years: { type: 'string' },
  'base-url': { type: 'string' },
  concurrency: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Options each command accepts. */
const ALLOWED: Record<string, readonly (keyof typeof OPTIONS)[]> = {
  sentinel2: ['stac', 'collection', 'bbox', 'from', 'to', 'max-cloud', 'download', 'concurrency'],
  oisst: ['source', 'years', 'from', 'to', 'base-url', 'concurrency'],
  local: ['download', 'concurrency'],
};

function usage(message: string): IngestError {
  return new IngestError('usage', message);
}

export function parseIngestArgs(argv: readonly string[]): IngestCommand {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw usage((error as Error).message.split('\n')[0]!.replace(/^TypeError \[\w+\]: /, ''));
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === 'help') return { kind: 'help' };
  if (!command) throw usage('no command given');
  const allowed = ALLOWED[command];
  if (!allowed) throw usage(`unknown command "${command}" (expected sentinel2, oisst or local)`);
  for (const name of Object.keys(values) as (keyof typeof OPTIONS)[]) {
    if (name !== 'help' && !allowed.includes(name)) throw usage(`${command} does not take --${name}`);
  }
  const concurrency = values.concurrency === undefined ? null : positiveInteger('--concurrency', values.concurrency);

  if (command === 'local') {
    if (rest.length !== 1) throw usage('local takes exactly one PATH');
    return { kind: 'local', path: rest[0]!, download: values.download ?? false, concurrency };
  }
  if (rest.length > 0) throw usage(`unexpected argument "${rest[0]}"`);

  if (command === 'sentinel2') {
    const stac = required(values.stac, '--stac URL');
    const bbox = parseBbox(required(values.bbox, '--bbox W,S,E,N'));
    const from = parseInstant('--from', required(values.from, '--from DATE'), 'start');
    const to = parseInstant('--to', required(values.to, '--to DATE'), 'end');
    if (Date.parse(to) < Date.parse(from)) throw usage(`--to ${values.to} is before --from ${values.from}`);
    const maxCloudCover = values['max-cloud'] === undefined ? null : parsePercent('--max-cloud', values['max-cloud']);
    return { kind: 'sentinel2', stac, collection: values.collection, bbox, from, to, maxCloudCover, download: values.download ?? false, concurrency };
  }

  const source = required(values.source, '--source psl or --source ncei');
  if (source !== 'psl' && source !== 'ncei') throw usage(`--source ${source}: expected psl or ncei`);
  if (source === 'psl') {
    if (values.from !== undefined || values.to !== undefined) throw usage('oisst --source psl takes --years, not --from/--to');
    const years = required(values.years, '--years YYYY[,YYYY…]')
      .split(',')
      .map((text) => {
        if (!/^\d{4}$/.test(text.trim())) throw usage(`--years: "${text}" is not a year`);
        return Number(text);
      });
    return { kind: 'oisst', product: 'psl', years, from: null, to: null, baseUrl: values['base-url'], concurrency };
  }
  if (values.years !== undefined) throw usage('oisst --source ncei takes --from and --to, not --years');
  const from = parseDate('--from', required(values.from, '--from YYYY-MM-DD'));
  const to = parseDate('--to', required(values.to, '--to YYYY-MM-DD'));
  if (to < from) throw usage(`--to ${to} is before --from ${from}`);
  return { kind: 'oisst', product: 'ncei', years: null, from, to, baseUrl: values['base-url'], concurrency };
}

function required(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw usage(`missing ${what}`);
  return value;
}

function positiveInteger(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw usage(`${name} ${text}: expected a whole number of at least 1`);
  return value;
}

function parsePercent(name: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || value > 100) throw usage(`${name} ${text}: expected a percentage from 0 to 100`);
  return value;
}

export function parseBbox(text: string): Bbox {
  const parts = text.split(',').map((part) => Number(part.trim()));
  if (parts.length !== 4 || parts.some((v) => !Number.isFinite(v))) throw usage(`--bbox ${text}: expected four numbers W,S,E,N in degrees`);
  const [west, south, east, north] = parts as Bbox;
  if (west < -180 || east > 180 || south < -90 || north > 90) throw usage(`--bbox ${text}: longitudes must lie in -180..180 and latitudes in -90..90`);
  if (south >= north) throw usage(`--bbox ${text}: south (${south}) must be less than north (${north})`);
  if (west >= east) throw usage(`--bbox ${text}: west (${west}) must be less than east (${east}); split an area across the antimeridian into two ingests`);
  return [west, south, east, north];
}

/** YYYY-MM-DD, checked to be a real calendar date. */
export function parseDate(name: string, text: string): string {
  const valid = /^\d{4}-\d{2}-\d{2}$/.test(text) && !Number.isNaN(Date.parse(`${text}T00:00:00Z`)) && new Date(`${text}T00:00:00Z`).toISOString().slice(0, 10) === text;
  if (!valid) throw usage(`${name} ${text}: expected a date YYYY-MM-DD`);
  return text;
}

/** A date (the whole day: its start for `from`, its last millisecond for `to`) or an RFC 3339 date-time, as an ISO instant. */
export function parseInstant(name: string, text: string, end: 'start' | 'end'): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const date = parseDate(name, text);
    return end === 'start' ? `${date}T00:00:00Z` : `${date}T23:59:59.999Z`;
  }
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(text) || Number.isNaN(Date.parse(text))) {
    throw usage(`${name} ${text}: expected a date YYYY-MM-DD or a date-time like 2020-05-01T00:00:00Z`);
  }
  return new Date(text).toISOString();
}
