import { join } from 'node:path';
import type { Context } from 'koa';
import send from 'send';
import { OpenEOError } from '../../common/errors.js';
import { type AuthState, requireUser } from '../http/authentication.js';
import type { JobRecord, LogEntry } from '../jobs/job-record.js';
import { resultsDocument } from '../jobs/results-document.js';
import { type ApiContext, baseUrl } from './api-context.js';
import type { EndpointRegistry } from './endpoint-registry.js';

function jobSummary(record: JobRecord): Record<string, unknown> {
  const summary: Record<string, unknown> = {
    id: record.id,
    title: record.title,
    description: record.description,
    status: record.status,
    progress: record.progress,
    created: record.created,
    updated: record.updated,
    log_level: record.logLevel,
  };
  // Absent rather than null: the API types these as plain string and number.
  if (record.plan !== null) summary.plan = record.plan;
  if (record.budget !== null) summary.budget = record.budget;
  return summary;
}

function jobDetail(record: JobRecord): Record<string, unknown> {
  return { ...jobSummary(record), process: record.process };
}

function userOf(ctx: Context): string {
  return (ctx.state as AuthState).user;
}

const LEVELS: LogEntry['level'][] = ['debug', 'info', 'warning', 'error'];

/** Largest page of log entries a client may ask for. */
export const MAX_LOG_LIMIT = 10_000;

export function registerJobs(api: ApiContext, endpoints: EndpointRegistry): void {
  const auth = requireUser(api.tokens);

  endpoints.add('POST', '/jobs', auth, async (ctx) => {
    const body = ctx.request.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new OpenEOError('BadRequest', 'the request body must be a JSON object with a "process"');
    const record = await api.jobs.create(userOf(ctx), body);
    ctx.status = 201;
    ctx.body = ''; // openEO: no body; Koa would otherwise send the status text
    ctx.set('Location', `${baseUrl(api, ctx)}/jobs/${record.id}`);
    ctx.set('OpenEO-Identifier', record.id);
  });

  endpoints.add('GET', '/jobs', auth, async (ctx) => {
    const records = await api.jobs.list(userOf(ctx));
    ctx.body = { jobs: records.map(jobSummary), links: [] };
  });

  endpoints.add('GET', '/jobs/{job_id}', auth, async (ctx) => {
    ctx.body = jobDetail(await api.jobs.get(userOf(ctx), ctx.params.job_id!));
  });

  endpoints.add('PATCH', '/jobs/{job_id}', auth, async (ctx) => {
    const body = ctx.request.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new OpenEOError('BadRequest', 'the request body must be a JSON object');
    await api.jobs.update(userOf(ctx), ctx.params.job_id!, body);
    ctx.status = 204;
  });

  endpoints.add('DELETE', '/jobs/{job_id}', auth, async (ctx) => {
    await api.jobs.remove(userOf(ctx), ctx.params.job_id!);
    ctx.status = 204;
  });

  endpoints.add('POST', '/jobs/{job_id}/results', auth, async (ctx) => {
    await api.jobs.startJob(userOf(ctx), ctx.params.job_id!);
    ctx.status = 202;
    ctx.body = '';
  });

  endpoints.add('DELETE', '/jobs/{job_id}/results', auth, async (ctx) => {
    await api.jobs.cancel(userOf(ctx), ctx.params.job_id!);
    ctx.status = 204;
  });

  endpoints.add('GET', '/jobs/{job_id}/results', auth, async (ctx) => {
    const record = await api.jobs.get(userOf(ctx), ctx.params.job_id!);
    const partial = isTrue(ctx.query.partial);
    if (record.status === 'error') {
      // openEO: the job's last error, as a log entry.
      const { entries } = await api.jobs.logs(record.id, { minLevel: 'error' });
      const last = entries[entries.length - 1];
      ctx.status = 424;
      ctx.body = {
        id: last?.id ?? `${record.id}-error`,
        level: 'error',
        code: record.error?.code ?? last?.code ?? 'Internal',
        message: record.error?.message ?? last?.message ?? 'the job failed',
        time: last?.time ?? record.finishedAt ?? record.updated,
        links: [],
      };
      return;
    }
    if (record.status === 'created' && partial) throw new OpenEOError('JobNotStarted', `job "${record.id}" has not been started; POST /jobs/${record.id}/results starts it`);
    if (record.status !== 'finished' && !partial) throw new OpenEOError('JobNotFinished', `job "${record.id}" is ${record.status}; results are available once it is finished (or ask with ?partial=true for the files written so far)`);
    ctx.body = await resultsBody(api, ctx, record);
    ctx.type = 'application/json';
  });

  endpoints.add('GET', '/jobs/{job_id}/estimate', auth, async (ctx) => {
    ctx.body = await api.jobs.estimate(userOf(ctx), ctx.params.job_id!);
  });

  endpoints.add('GET', '/jobs/{job_id}/logs', auth, async (ctx) => {
    const record = await api.jobs.get(userOf(ctx), ctx.params.job_id!);
    const level = (ctx.query.level as string | undefined) ?? 'debug';
    if (!LEVELS.includes(level as LogEntry['level'])) throw new OpenEOError('BadRequest', `"level" must be one of ${LEVELS.join(', ')}`);
    const limitText = ctx.query.limit as string | undefined;
    const limit = limitText === undefined ? undefined : Number(limitText);
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > MAX_LOG_LIMIT)) throw new OpenEOError('BadRequest', `"limit" must be an integer from 1 to ${MAX_LOG_LIMIT}`);
    const offset = (ctx.query.offset as string | undefined) ?? null;
    const { entries, next } = await api.jobs.logs(record.id, { offset, minLevel: level as LogEntry['level'], limit });
    const links: Record<string, unknown>[] = [];
    if (next) {
      const params = new URLSearchParams({ offset: next, level, ...(limit ? { limit: String(limit) } : {}) });
      links.push({ rel: 'next', href: `${baseUrl(api, ctx)}/jobs/${record.id}/logs?${params}` });
    }
    ctx.body = { level, logs: entries.map(({ id, level: l, message, time, code, data }) => ({ id, level: l, message, time, ...(code ? { code } : {}), ...(data !== undefined ? { data } : {}) })), links };
  });

  // Signed links: no token, so tools like GDAL's /vsicurl/ and browsers can open them.
  endpoints.router.get('/results/:job_id/:run/:expires/:signature', async (ctx) => {
    const record = await checkLink(api, ctx);
    ctx.body = await resultsBody(api, ctx, record);
  });
  endpoints.router.get('/results/:job_id/:run/:expires/:signature/:file', async (ctx) => {
    const record = await checkLink(api, ctx, ctx.params.file);
    const file = (await api.jobs.resultFiles(record)).find((f) => f.name === ctx.params.file);
    if (!file) throw new OpenEOError('FileNotFound', `job "${record.id}" has no result file "${ctx.params.file}"`);
    ctx.respond = false;
    // Koa's default status is 404; `send` only changes it for ranges and errors.
    ctx.res.statusCode = 200;
    await new Promise<void>((resolve) => {
      const stream = send(ctx.req, join(api.config.dataDir, file.path), { dotfiles: 'deny', etag: true, lastModified: true, maxAge: 0 });
      stream.on('headers', (res) => {
        res.setHeader('Content-Type', file.type);
        res.setHeader('Access-Control-Allow-Origin', '*');
        res.setHeader('Access-Control-Expose-Headers', 'Content-Range, Content-Length, Accept-Ranges');
      });
      stream.on('error', (error: Error & { status?: number }) => {
        ctx.res.statusCode = error.status ?? 500;
        ctx.res.setHeader('Content-Type', 'application/json');
        ctx.res.end(JSON.stringify({ code: error.status === 404 ? 'FileNotFound' : 'Internal', message: error.status === 404 ? 'the result file is gone' : 'the file could not be read', links: [] }));
        resolve();
      });
      stream.on('end', () => resolve());
      ctx.res.on('close', () => resolve());
      stream.pipe(ctx.res);
    });
  });
}

/** openEO query flags: `?partial=true`, and `?partial` alone (the parameter allows an empty value). */
function isTrue(value: string | string[] | undefined): boolean {
  return value === 'true' || value === '';
}

async function resultsBody(api: ApiContext, ctx: Context, record: JobRecord): Promise<Record<string, unknown>> {
  const base = baseUrl(api, ctx);
  const expires = api.links.expiry();
  const assets = (await api.jobs.resultFiles(record)).map((file) => ({ file, href: `${base}${api.links.path(record.id, record.run, expires, file.name)}` }));
  return resultsDocument(
    record,
    assets,
    { self: `${base}/jobs/${record.id}/results`, canonical: `${base}${api.links.path(record.id, record.run, expires)}` },
    new Date(expires * 1000).toISOString(),
  );
}

async function checkLink(api: ApiContext, ctx: Context, file?: string): Promise<JobRecord> {
  const { job_id: jobId, run, expires, signature } = ctx.params as Record<string, string>;
  const verdict = api.links.check(jobId!, Number(run), Number(expires), signature!, file);
  if (verdict === 'invalid') throw new OpenEOError('CredentialsInvalid', 'this result link is not valid');
  if (verdict === 'expired') throw new OpenEOError('ResultLinkExpired', 'this result link has expired; GET /jobs/{job_id}/results gives fresh links');
  const record = await api.jobs.getAny(jobId!);
  // Links of a running job point to its partial results; a restart or a failure discards them.
  if (!record || record.run !== Number(run) || record.status === 'error' || record.status === 'created') {
    throw new OpenEOError('FileNotFound', 'these results no longer exist (the job was restarted, failed or was deleted)');
  }
  return record;
}
