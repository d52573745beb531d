import { createHmac, timingSafeEqual } from 'node:crypto';

/** How long a bearer token from /credentials/basic is valid (s): a working day. */
export const TOKEN_LIFETIME_SECONDS = 24 * 3600;

/**
 * Stateless bearer tokens: `base64url(json{u, exp}).hmac`. They survive API restarts and work on
 * every API replica that shares the signing key; they expire on their own.
 */
export class TokenSigner {
  constructor(
    private readonly key: Buffer,
    private readonly now: () => number = () => Date.now(),
  ) {}

  issue(user: string, lifetimeSeconds = TOKEN_LIFETIME_SECONDS): { token: string; expiresAt: number } {
    const expiresAt = Math.floor(this.now() / 1000) + lifetimeSeconds;
    const payload = Buffer.from(JSON.stringify({ u: user, exp: expiresAt })).toString('base64url');
    return { token: `${payload}.${this.sign(payload)}`, expiresAt };
  }

  /** The user of a valid, unexpired token; null otherwise. */
  verify(token: string): string | null {
    const dot = token.lastIndexOf('.');
    if (dot <= 0) return null;
    const payload = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1));
    const expected = Buffer.from(this.sign(payload));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    try {
      const { u, exp } = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { u: string; exp: number };
      if (typeof u !== 'string' || typeof exp !== 'number' || exp * 1000 < this.now()) return null;
      return u;
    } catch {
      return null;
    }
  }

  /** HMAC of any string with the same key (signed result URLs). */
  sign(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('base64url');
  }
}
