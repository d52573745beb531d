import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (the folder with package.json), whether running from sources or `dist/`. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'proto'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the package root (package.json next to proto/)');
    dir = parent;
  }
}

/** The compiled entry point of the service, used to start worker processes. */
export function mainScript(): string {
  return join(packageRoot(), 'dist', 'main.js');
}
