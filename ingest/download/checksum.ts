import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/**
 * STAC's `file:checksum` is a multihash in hex: a function code, a digest length, the digest.
 * sha2-256 (code 0x12, 32 bytes: "1220…") is what STAC catalogs use; other functions are
 * reported as unsupported and the file is checked by its size only.
 */

export interface ExpectedDigest {
  /** Node's name of the hash function. */
  algorithm: 'sha256' | 'sha512' | 'sha1';
  /** Lower-case hex digest. */
  hex: string;
}

/** Multihash function codes this checker knows, with their digest lengths in bytes. */
const MULTIHASH_FUNCTIONS: Record<string, { algorithm: ExpectedDigest['algorithm']; bytes: number }> = {
  '11': { algorithm: 'sha1', bytes: 20 },
  '12': { algorithm: 'sha256', bytes: 32 },
  '13': { algorithm: 'sha512', bytes: 64 },
};

/** The digest a multihash names, or null when its hash function is not supported (or it is malformed). */
export function parseMultihash(multihash: string): ExpectedDigest | null {
  const text = multihash.trim().toLowerCase();
  if (!/^[0-9a-f]+$/.test(text) || text.length < 4) return null;
  const known = MULTIHASH_FUNCTIONS[text.slice(0, 2)];
  if (!known) return null;
  const length = parseInt(text.slice(2, 4), 16);
  const hex = text.slice(4);
  if (length !== known.bytes || hex.length !== 2 * length) return null;
  return { algorithm: known.algorithm, hex };
}

/** The hex digest of a file. */
export async function digestFile(path: string, algorithm: ExpectedDigest['algorithm']): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
