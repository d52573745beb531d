import type { IngestCredential } from '../../common/config.js';

/**
 * Credentials go to the host they were configured for and nowhere else: not to a host a
 * redirect leads to, not into a log line (URLs are logged without user info or query string,
 * where signed URLs carry their tokens).
 */

/** The Authorization header value for `url`, if a credential names its host (with or without the port). */
export function authorizationFor(url: URL, credentials: readonly IngestCredential[]): string | undefined {
  const host = url.host.toLowerCase();
  const hostname = url.hostname.toLowerCase();
  return (credentials.find((c) => c.host === host) ?? credentials.find((c) => !c.host.includes(':') && c.host === hostname))?.authorization;
}

/** A URL fit for logs and messages: no user info, no query string, no fragment. */
export function redactUrl(url: string | URL): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    const hidden = parsed.search !== '' ? '?…' : '';
    parsed.search = '';
    parsed.hash = '';
    return `${parsed.toString()}${hidden}`;
  } catch {
    return String(url);
  }
}
