import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Context } from 'koa';
import { pack } from 'tar-stream';
import { OpenEOError } from '../../common/errors.js';
import { requireUser } from '../http/authentication.js';
import type { ResultFile } from '../jobs/job-record.js';
import type { ApiContext } from './api-context.js';
import type { EndpointRegistry } from './endpoint-registry.js';

/** Media type of several result files sent at once, as the openEO API recommends. */
export const TAR_MEDIA_TYPE = 'application/x-tar';

/** A tar archive of the files, streamed as it is read. */
function tarOf(dataDir: string, files: ResultFile[]): PassThrough {
  const archive = pack();
  const out = new PassThrough();
  void (async () => {
    for (const file of files) {
      const entry = archive.entry({ name: file.name, size: file.bytes, mode: 0o644 });
      await pipeline(createReadStream(join(dataDir, file.path)), entry);
    }
    archive.finalize();
  })().catch((error: unknown) => archive.destroy(error as Error));
  archive.pipe(out);
  archive.on('error', (error) => out.destroy(error));
  return out;
}

/** `POST /result`: processes a small request while the client waits and answers with the data. */
export function registerSync(api: ApiContext, endpoints: EndpointRegistry): void {
  endpoints.add('POST', '/result', requireUser(api.tokens), async (ctx: Context) => {
    const body = ctx.request.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new OpenEOError('BadRequest', 'the request body must be a JSON object with a "process"');
    // The client leaving cancels the work; `close` after a sent response changes nothing.
    const abort = new AbortController();
    ctx.res.once('close', () => abort.abort());
    const result = await api.sync.run(body.process, abort.signal);
    ctx.set('OpenEO-Costs', '0');
    if (result.kind === 'value') {
      ctx.type = 'application/json';
      ctx.body = JSON.stringify(result.value);
      return;
    }
    ctx.res.once('close', () => void result.discard());
    if (result.files.length === 0) throw new OpenEOError('Internal', 'the processing wrote no result file');
    if (result.files.length === 1) {
      const file = result.files[0]!;
      ctx.type = file.type;
      ctx.length = file.bytes;
      ctx.attachment(file.name, { type: 'inline' });
      ctx.body = createReadStream(join(api.config.dataDir, file.path));
      return;
    }
    ctx.type = TAR_MEDIA_TYPE;
    ctx.attachment('result.tar', { type: 'inline' });
    ctx.body = tarOf(api.config.dataDir, result.files);
  });
}
