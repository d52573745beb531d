import { copyFile, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeAtomic } from '../../common/files.js';
import { IngestError, storageError } from '../ingest-error.js';
import { digestFile, parseMultihash } from './checksum.js';
import { httpRequest, networkError, statusError, withRetries, type HttpOptions } from './http-client.js';
import { redactUrl } from './credentials.js';

/**
 * One file from a URL (or a local path) to a destination, safely:
 * - the bytes go to `<destination>.part` and are renamed into place only when complete and checked,
 *   so a destination file is always whole;
 * - a `.part` left by an interrupted attempt or run is resumed with an HTTP Range request, guarded by
 *   `If-Range` with the ETag (or Last-Modified) of the first response, kept in `<destination>.part.json`:
 *   if the file changed on the server meanwhile, the server sends it whole and the part is dropped;
 * - transient failures (5xx, resets, timeouts, a body cut short) are retried with back-off;
 * - the size is checked against Content-Length / Content-Range and the STAC `file:size`, the
 *   digest against the STAC `file:checksum` when there is one.
 */

/** Suffix of a download in progress. */
export const PART_SUFFIX = '.part';

/** Suffix of the resume information beside a `.part`: the URL and the validators of the first response. */
export const PART_META_SUFFIX = '.part.json';

/**
 * A download that receives nothing for this long is abandoned and retried: 60 s. Long enough for a
 * slow server to start sending a large file, short enough that a stalled connection is noticed.
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

export interface DownloadRequest {
  /** http(s) URL, file:// URL or local path. */
  url: string;
  destination: string;
  /** STAC `file:size`, when known. */
  expectedSize?: number | null;
  /** STAC `file:checksum` (a multihash in hex), when known. */
  checksum?: string | null;
  /** How progress output names the file; defaults to the URL's last path segment. */
  label?: string;
}

export interface DownloadResult {
  request: DownloadRequest;
  bytes: number;
  /** The destination was already complete (checked by checksum or size): nothing was fetched. */
  skipped: boolean;
  /** Some bytes came from a `.part` of an earlier attempt (HTTP Range). */
  resumed: boolean;
  attempts: number;
}

export interface DownloadFileOptions extends HttpOptions {
  idleTimeoutMs?: number;
  /** Bytes of this file on disk so far (drops when a stale part is discarded), and its size when known. */
  onProgress?: (bytes: number, total: number | null) => void;
}

interface PartMeta {
  url: string;
  etag: string | null;
  lastModified: string | null;
  total: number | null;
}

export function labelOf(request: DownloadRequest): string {
  if (request.label) return request.label;
  const path = /^[a-z][a-z0-9+.-]*:\/\//i.test(request.url) ? new URL(request.url).pathname : request.url;
  return decodeURIComponent(path.split('/').filter(Boolean).pop() ?? request.url);
}

export async function downloadFile(request: DownloadRequest, options: DownloadFileOptions = {}): Promise<DownloadResult> {
  const { destination } = request;
  try {
    await mkdir(dirname(destination), { recursive: true });
  } catch (error) {
    throw storageError(`creating the folder of ${destination}`, error);
  }
  if (await isComplete(request, options)) {
    const bytes = (await stat(destination)).size;
    options.onProgress?.(bytes, bytes);
    return { request, bytes, skipped: true, resumed: false, attempts: 0 };
  }
  if (!/^https?:\/\//i.test(request.url)) return copyLocal(request, options);

  let resumed = false;
  let attempts = 0;
  const bytes = await withRetries(request.url, options, async (attempt) => {
    attempts = attempt;
    const outcome = await attemptDownload(request, options);
    resumed ||= outcome.resumed;
    return outcome.bytes;
  });
  return { request, bytes, skipped: false, resumed, attempts };
}

/** Whether the destination already holds the complete file: by digest when one is known, else by size. */
async function isComplete(request: DownloadRequest, options: DownloadFileOptions): Promise<boolean> {
  const found = await stat(request.destination).catch(() => undefined);
  if (!found?.isFile()) return false;
  const digest = request.checksum ? parseMultihash(request.checksum) : null;
  if (digest) return (await digestFile(request.destination, digest.algorithm)) === digest.hex;
  if (request.expectedSize != null) return found.size === request.expectedSize;
  if (!/^https?:\/\//i.test(request.url)) {
    const source = await stat(localPath(request.url)).catch(() => undefined);
    return source !== undefined && source.size === found.size && source.mtimeMs <= found.mtimeMs;
  }
  // No checksum or size in the metadata: ask the server for the size.
  const size = await withRetries(request.url, options, async () => {
    const response = await httpRequest(request.url, { method: 'HEAD', signal: options.signal }, options.credentials);
    await response.body?.cancel().catch(() => undefined);
    if (!response.ok) throw statusError(request.url, response.status, response.statusText);
    const length = response.headers.get('content-length');
    return length === null ? null : Number(length);
  }).catch(() => null);
  return size !== null && size === found.size;
}

async function attemptDownload(request: DownloadRequest, options: DownloadFileOptions): Promise<{ bytes: number; resumed: boolean }> {
  const { url, destination } = request;
  const part = `${destination}${PART_SUFFIX}`;
  const metaPath = `${destination}${PART_META_SUFFIX}`;
  let meta = await readPartMeta(metaPath);
  let offset = (await stat(part).catch(() => undefined))?.size ?? 0;
  if (offset > 0 && (meta === null || meta.url !== url)) {
    // A part from another URL, or one whose origin is unknown, cannot be continued.
    offset = 0;
  }

  const headers: Record<string, string> = {};
  if (offset > 0 && meta) {
    headers.Range = `bytes=${offset}-`;
    const validator = meta.etag && !meta.etag.startsWith('W/') ? meta.etag : meta.lastModified;
    if (validator) headers['If-Range'] = validator;
  }

  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const idle = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, idle.signal]) : idle.signal;
  let timer = setTimeout(() => idle.abort(new DOMException('no data received', 'TimeoutError')), idleTimeoutMs);
  const touch = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(new DOMException('no data received', 'TimeoutError')), idleTimeoutMs);
  };
  try {
    const response = await httpRequest(url, { method: 'GET', headers, signal }, options.credentials);
    if (response.status === 416 && offset > 0) {
      await response.body?.cancel().catch(() => undefined);
      // The part may already be complete (a crash between the last byte and the rename).
      const total = totalFromContentRange(response.headers.get('content-range')) ?? meta?.total ?? null;
      if (total !== null && total === offset) return { bytes: await finish(request, part, metaPath, total, options), resumed: true };
      await discardPart(part, metaPath);
      throw new IngestError('http', `${redactUrl(url)}: the server refused to resume; starting over`, { transient: true, status: 416 });
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw statusError(url, response.status, response.statusText);
    }
    let total: number | null;
    let resumed = false;
    if (response.status === 206) {
      const range = parseContentRange(response.headers.get('content-range'));
      if (!range || range.start !== offset) {
        await response.body?.cancel().catch(() => undefined);
        await discardPart(part, metaPath);
        throw new IngestError('http', `${redactUrl(url)}: the server answered another range than asked for; starting over`, { transient: true });
      }
      total = range.total;
      resumed = true;
    } else {
      // 200: the whole file, either because nothing was asked to resume or because If-Range did not match.
      offset = 0;
      const length = response.headers.get('content-length');
      total = length === null ? null : Number(length);
      meta = { url, etag: response.headers.get('etag'), lastModified: response.headers.get('last-modified'), total };
      try {
        await writeAtomic(metaPath, JSON.stringify(meta));
      } catch (error) {
        throw storageError(`writing ${metaPath}`, error);
      }
    }
    if (request.expectedSize != null && total !== null && total !== request.expectedSize) {
      await response.body?.cancel().catch(() => undefined);
      throw new IngestError('integrity', `${redactUrl(url)}: the server sends ${total} bytes, the STAC metadata says ${request.expectedSize}`);
    }
    options.onProgress?.(offset, total);

    let written = offset;
    let handle;
    try {
      handle = await open(part, offset > 0 ? 'a' : 'w');
    } catch (error) {
      await response.body?.cancel().catch(() => undefined);
      throw storageError(`opening ${part}`, error);
    }
    try {
      if (!response.body) throw new IngestError('http', `${redactUrl(url)}: the answer has no body`, { transient: true });
      const reader = response.body.getReader();
      for (;;) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (error) {
          throw networkError(url, idle.signal.aborted ? idle.signal.reason : error, options.signal);
        }
        if (chunk.done) break;
        touch();
        try {
          await handle.write(chunk.value);
        } catch (error) {
          await reader.cancel().catch(() => undefined);
          throw storageError(`writing ${part}`, error);
        }
        written += chunk.value.length;
        options.onProgress?.(written, total);
      }
    } finally {
      await handle.close().catch(() => undefined);
    }
    if (total !== null && written < total) {
      throw new IngestError('network', `${redactUrl(url)}: the connection closed after ${written} of ${total} bytes`, { transient: true });
    }
    if (total !== null && written > total) {
      await discardPart(part, metaPath);
      throw new IngestError('integrity', `${redactUrl(url)}: received ${written} bytes, the server announced ${total}`);
    }
    return { bytes: await finish(request, part, metaPath, written, options), resumed };
  } finally {
    clearTimeout(timer);
  }
}

/** Checks size and digest of a complete part and moves it into place. */
async function finish(request: DownloadRequest, part: string, metaPath: string, bytes: number, options: DownloadFileOptions): Promise<number> {
  const where = redactUrl(request.url);
  if (request.expectedSize != null && bytes !== request.expectedSize) {
    await discardPart(part, metaPath);
    throw new IngestError('integrity', `${where}: got ${bytes} bytes, the STAC metadata says ${request.expectedSize}`);
  }
  const digest = request.checksum ? parseMultihash(request.checksum) : null;
  if (digest) {
    const actual = await digestFile(part, digest.algorithm);
    if (actual !== digest.hex) {
      await discardPart(part, metaPath);
      throw new IngestError('integrity', `${where}: ${digest.algorithm} checksum mismatch (expected ${digest.hex}, got ${actual}); the partial file was removed`);
    }
  }
  try {
    await rename(part, request.destination);
  } catch (error) {
    throw storageError(`moving ${part} into place`, error);
  }
  await rm(metaPath, { force: true });
  options.onProgress?.(bytes, bytes);
  return bytes;
}

async function copyLocal(request: DownloadRequest, options: DownloadFileOptions): Promise<DownloadResult> {
  const source = localPath(request.url);
  const found = await stat(source).catch(() => undefined);
  if (!found?.isFile()) throw new IngestError('not-found', `${source}: no such file`);
  const part = `${request.destination}${PART_SUFFIX}`;
  try {
    await copyFile(source, part);
  } catch (error) {
    await rm(part, { force: true });
    throw storageError(`copying ${source} to ${part}`, error);
  }
  const bytes = await finish(request, part, `${request.destination}${PART_META_SUFFIX}`, found.size, options);
  return { request, bytes, skipped: false, resumed: false, attempts: 1 };
}

function localPath(url: string): string {
  return url.startsWith('file:') ? fileURLToPath(url) : url;
}

async function readPartMeta(path: string): Promise<PartMeta | null> {
  try {
    const meta = JSON.parse(await readFile(path, 'utf8')) as PartMeta;
    return typeof meta.url === 'string' ? meta : null;
  } catch {
    return null;
  }
}

async function discardPart(part: string, metaPath: string): Promise<void> {
  await rm(part, { force: true });
  await rm(metaPath, { force: true });
}

function parseContentRange(header: string | null): { start: number; end: number; total: number | null } | null {
  const match = header ? /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(header.trim()) : null;
  if (!match) return null;
  return { start: Number(match[1]), end: Number(match[2]), total: match[3] === '*' ? null : Number(match[3]) };
}

function totalFromContentRange(header: string | null): number | null {
  const match = header ? /\/(\d+)\s*$/.exec(header) : null;
  return match ? Number(match[1]) : null;
}
