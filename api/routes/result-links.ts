import { timingSafeEqual } from 'node:crypto';
import { DEFAULT_RESULT_LINK_LIFETIME_SECONDS } from '../../common/config.js';
import type { TokenSigner } from '../auth/tokens.js';

/**
 * Result links: `/results/{job}/{run}/{expires}/{signature}/{file}` — signed with HMAC, valid
 * without a token until `expires`, ending with the file name so tools name downloads right.
 * The clock is injected so tests can age links.
 */
export class ResultLinks {
  constructor(
    private readonly signer: TokenSigner,
    private readonly lifetimeSeconds: number = DEFAULT_RESULT_LINK_LIFETIME_SECONDS,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Expiry (Unix seconds) of links made now. */
  expiry(): number {
    return Math.floor(this.now() / 1000) + this.lifetimeSeconds;
  }

  /** Path of a signed link to a file (or, with no file, to the results document). */
  path(jobId: string, run: number, expires: number, file?: string): string {
    const signature = this.signer.sign(`${jobId}/${run}/${expires}/${file ?? ''}`);
    const base = `/results/${encodeURIComponent(jobId)}/${run}/${expires}/${signature}`;
    return file === undefined ? base : `${base}/${encodeURIComponent(file)}`;
  }

  /** 'ok', 'expired' or 'invalid' for the parts of a link. */
  check(jobId: string, run: number, expires: number, signature: string, file?: string): 'ok' | 'expired' | 'invalid' {
    const expected = Buffer.from(this.signer.sign(`${jobId}/${run}/${expires}/${file ?? ''}`));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
    return expires * 1000 < this.now() ? 'expired' : 'ok';
  }
}
