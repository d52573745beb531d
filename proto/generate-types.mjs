// Generates TypeScript types for proto/scheduler.proto into proto/generated/ and adds the `.js`
// extensions that ESM (NodeNext) resolution requires on relative imports.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(root, 'proto', 'generated');
const generator = join(root, 'node_modules', '@grpc', 'proto-loader', 'build', 'bin', 'proto-loader-gen-types.js');
execFileSync(process.execPath, [generator, '--grpcLib=@grpc/grpc-js', '--longs=Number', '--enums=String', '--defaults', '--oneofs', '--includeComments', '-O', out, join(root, 'proto', 'scheduler.proto')], { stdio: 'inherit', cwd: root });

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.ts')) writeFileSync(path, readFileSync(path, 'utf8').replace(/(from '\.{1,2}\/[^']*?)(?<!\.js)'/g, "$1.js'"));
  }
}
walk(out);
