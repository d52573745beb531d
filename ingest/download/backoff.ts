import { DEFAULT_INGEST_RETRY_DELAY_MS } from '../../common/config.js';

/**
 * Retry policy for transient failures (5xx, 408, 429, resets, timeouts): exponential back-off
 * with jitter, so that many clients cut off by one server outage do not return in step.
 */

/** Attempts per request, the first included: 5. With the delays below that rides out about half a minute of outage. */
export const DEFAULT_MAX_ATTEMPTS = 5;

/** Delay before the first retry when the caller names none: INGEST_RETRY_DELAY_MS's default. */
export const DEFAULT_RETRY_BASE_DELAY_MS = DEFAULT_INGEST_RETRY_DELAY_MS;

/** Longest delay between two attempts: 30 s; beyond that a person would rather be told. */
export const RETRY_MAX_DELAY_MS = 30_000;

/**
 * Delay before retry number `retry` (1 = the first retry): uniformly random between half and
 * all of base × 2^(retry-1), capped at RETRY_MAX_DELAY_MS ("equal jitter": never much shorter
 * than the back-off intends, yet spread out).
 */
export function backoffDelay(retry: number, baseDelayMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(RETRY_MAX_DELAY_MS, baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.round(ceiling * (0.5 + 0.5 * random()));
}
