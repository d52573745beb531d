import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const SIGNING_KEY_FILE = '.signing-key';

/**
 * The key that signs tokens and result links: RESULT_SIGNING_KEY when set (share it between
 * API replicas), otherwise a random key kept in DATA_DIR (mode 600) so links survive restarts.
 */
export async function loadSigningKey(configured: string | null, dataDir: string): Promise<Buffer> {
  if (configured) return Buffer.from(configured);
  const path = join(dataDir, SIGNING_KEY_FILE);
  try {
    return Buffer.from((await readFile(path, 'utf8')).trim(), 'base64url');
  } catch {
    const key = randomBytes(32);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, key.toString('base64url'), { mode: 0o600, flag: 'wx' }).catch(async () => undefined);
    return Buffer.from((await readFile(path, 'utf8')).trim(), 'base64url');
  }
}
