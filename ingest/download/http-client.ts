import type { IngestCredential } from '../../common/config.js';
import { IngestError } from '../ingest-error.js';
import { backoffDelay, DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_BASE_DELAY_MS } from './backoff.js';
import { systemClock, type Clock } from './clock.js';
import { authorizationFor, redactUrl } from './credentials.js';

/**
 * HTTP for the ingest command: Node's fetch with redirects followed here (so credentials are
 * sent only to the host they belong to), HTTP statuses and socket failures turned into
 * IngestErrors that say whether a retry can help, and a retry loop with back-off.
 */

/** Redirects followed per request: 10, as browsers and curl allow; more means a loop. */
export const MAX_REDIRECTS = 10;

/** Time a JSON request (a STAC page) may take in all: 60 s, generous for a slow search. */
export const JSON_REQUEST_TIMEOUT_MS = 60_000;

/** The User-Agent sent with every request, so providers can tell this client apart. */
export const USER_AGENT = 'openeo-dask-ts-ingest/0.1';

export interface HttpOptions {
  credentials?: readonly IngestCredential[];
  signal?: AbortSignal;
  clock?: Clock;
  maxAttempts?: number;
  retryBaseDelayMs?: number;
  /** Told about each retry before its delay (for progress output). */
  onRetry?: (info: { url: string; attempt: number; delayMs: number; error: IngestError }) => void;
}

export interface RequestInit {
  method?: 'GET' | 'HEAD' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/** One request, following redirects; the Authorization header is set per hop from the credentials. */
export async function httpRequest(url: string, init: RequestInit, credentials: readonly IngestCredential[] = []): Promise<Response> {
  let current = new URL(url);
  let method = init.method ?? 'GET';
  let body = init.body;
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = { 'User-Agent': USER_AGENT, ...init.headers };
    const authorization = authorizationFor(current, credentials);
    if (authorization) headers.Authorization = authorization;
    let response: Response;
    try {
      response = await fetch(current, { method, headers, body, redirect: 'manual', signal: init.signal });
    } catch (error) {
      // An abort by the caller's signal is recognised by the caller, which knows which signal it was.
      throw networkError(current.toString(), error);
    }
    if (response.status < 300 || response.status >= 400 || response.status === 304) return response;
    const location = response.headers.get('location');
    await response.body?.cancel().catch(() => undefined);
    if (!location) throw new IngestError('http', `${redactUrl(current)}: HTTP ${response.status} redirect without a Location`);
    if (hop >= MAX_REDIRECTS) throw new IngestError('http', `${redactUrl(url)}: more than ${MAX_REDIRECTS} redirects`);
    current = new URL(location, current);
    // 303 (and, as browsers do, 301/302 after a POST) turn the request into a GET.
    if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
      method = 'GET';
      body = undefined;
    }
  }
}

/** An IngestError for an HTTP status that is not a success. */
export function statusError(url: string, status: number, statusText = ''): IngestError {
  const where = redactUrl(url);
  const text = statusText ? ` ${statusText}` : '';
  if (status === 401 || status === 403) {
    const host = safeHost(url);
    return new IngestError('unauthorized', `${where}: HTTP ${status}${text}; the server wants credentials: set INGEST_AUTH="${host}=bearer:TOKEN" (or =basic:USER:PASSWORD)`, { status });
  }
  if (status === 404 || status === 410) return new IngestError('not-found', `${where}: HTTP ${status}${text}, the server has no such file`, { status });
  const transient = status === 408 || status === 429 || status >= 500;
  return new IngestError('http', `${where}: HTTP ${status}${text}`, { transient, status });
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'HOST';
  }
}

/** Socket and DNS failures, resets and cut-off bodies: transient, except a host that does not resolve. */
export function networkError(url: string, error: unknown, signal?: AbortSignal): IngestError {
  if (error instanceof IngestError) return error;
  const name = (error as { name?: string } | null)?.name;
  if (signal?.aborted || name === 'AbortError') return new IngestError('aborted', `${redactUrl(url)}: aborted`, { cause: error });
  const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause;
  const code = cause?.code ?? (error as { code?: string } | null)?.code;
  const message = cause?.message ?? (error instanceof Error ? error.message : String(error));
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new IngestError('network', `${redactUrl(url)}: cannot resolve the host name (${code})`, { cause: error, transient: code === 'EAI_AGAIN' });
  }
  const timeout = name === 'TimeoutError';
  return new IngestError('network', `${redactUrl(url)}: ${timeout ? 'timed out' : `connection failed (${message || code})`}`, { cause: error, transient: true });
}

/**
 * Runs `attempt` until it succeeds, fails for good (an error that is not transient) or runs out
 * of attempts; waits with exponential back-off between attempts.
 */
export async function withRetries<T>(url: string, options: HttpOptions, attempt: (attemptNumber: number) => Promise<T>): Promise<T> {
  const clock = options.clock ?? systemClock;
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const baseDelay = options.retryBaseDelayMs ?? DEFAULT_RETRY_BASE_DELAY_MS;
  for (let number = 1; ; number++) {
    try {
      return await attempt(number);
    } catch (error) {
      const failure = error instanceof IngestError ? error : networkError(url, error, options.signal);
      if (options.signal?.aborted) throw new IngestError('aborted', `${redactUrl(url)}: aborted`, { cause: failure });
      if (!failure.transient) throw failure;
      if (number >= maxAttempts) {
        throw new IngestError(failure.code, `${failure.message} (gave up after ${maxAttempts} attempts)`, { cause: failure, status: failure.status });
      }
      const delayMs = backoffDelay(number, baseDelay);
      options.onRetry?.({ url: redactUrl(url), attempt: number + 1, delayMs, error: failure });
      await clock.sleep(delayMs, options.signal).catch((reason: unknown) => {
        throw new IngestError('aborted', `${redactUrl(url)}: aborted`, { cause: reason });
      });
    }
  }
}

/** GETs (or POSTs) a JSON document, with retries. */
export async function fetchJson(url: string, options: HttpOptions, init: { method?: 'GET' | 'POST'; body?: unknown } = {}): Promise<unknown> {
  return withRetries(url, options, async () => {
    const signals = [AbortSignal.timeout(JSON_REQUEST_TIMEOUT_MS), ...(options.signal ? [options.signal] : [])];
    const signal = AbortSignal.any(signals);
    const headers: Record<string, string> = { Accept: 'application/geo+json, application/json' };
    if (init.body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await httpRequest(url, { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), signal }, options.credentials);
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw statusError(url, response.status, response.statusText);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw networkError(url, error, options.signal);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new IngestError('invalid-data', `${redactUrl(url)}: the answer is not JSON`, { cause: error });
    }
  });
}
