import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from 'vitest';

/**
 * Reference data (openEO specs, fixture rasters) lives beside the checkout in `../shared`.
 * A user's clone may lack it: those suites then skip with a printed reason, unless
 * REQUIRE_SHARED=1 (CI), where its absence is a failure.
 */
export const SHARED_DIR = resolve(process.env.SHARED_DIR ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared'));

export function sharedPath(...parts: string[]): string {
  return join(SHARED_DIR, ...parts);
}

export function sharedAvailable(): boolean {
  return existsSync(join(SHARED_DIR, 'fixtures', 'expected.json'));
}

/** `describe` for suites that need ../shared; skips with a reason, or fails under REQUIRE_SHARED=1. */
export function describeWithShared(name: string, body: () => void): void {
  if (sharedAvailable()) {
    describe(name, body);
    return;
  }
  if (process.env.REQUIRE_SHARED === '1') {
    describe(name, () => {
      throw new Error(`reference data not found at ${SHARED_DIR} (REQUIRE_SHARED=1); put the shared folder beside the checkout or set SHARED_DIR`);
    });
    return;
  }
  console.warn(`[skip] ${name}: reference data not found at ${SHARED_DIR}; set SHARED_DIR or place ../shared beside the checkout`);
  describe.skip(name, body);
}
