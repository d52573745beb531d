import { timingSafeEqual } from 'node:crypto';
import type { TokenSigner } from '../auth/tokens.js';

/**
 * How long a signed result link stays valid (s): a week, long enough to share a result with a
 * colleague, short enough that a leaked link does not grant access forever.
 */
export const RESULT_LINK_LIFETIME_SECONDS = 7 * 24 * 3600;

/**
 * Result links: `/results/{job}/{run}/{expires}/{signature}/{file}` — signed with HMAC, valid
 * without a token until `expires`, ending with the file name so tools name downloads right.
 */
export class ResultLinks {
  constructor(
    private readonly signer: TokenSigner,
    private readonly now: () => number = () => Date.now(),
  ) {}

  expiry(): number {
    return Math.floor(this.now() / 1000) + RESULT_LINK_LIFETIME_SECONDS;
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
