import { randomBytes } from 'node:crypto';
import type { Context, Next } from 'koa';
import { describeError, isOpenEOError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';

/**
 * Every error leaves as an openEO error document `{id, code, message, links}` with the status
 * its code prescribes. Unexpected errors are logged with their stack and answered with a
 * reference id, never with internals.
 */
export function errorHandler(logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = { id: randomBytes(6).toString('hex'), code: 'NotFound', message: `${ctx.method} ${ctx.path} does not exist; GET / lists the endpoints`, links: [] };
      } else if (ctx.status === 405 || ctx.status === 501) {
        const allowed = ctx.response.get('Allow');
        ctx.body = { id: randomBytes(6).toString('hex'), code: ctx.status === 405 ? 'MethodNotAllowed' : 'FeatureUnsupported', message: `${ctx.method} is not supported on ${ctx.path}${allowed ? `; use ${allowed}` : ''}`, links: [] };
      }
    } catch (error) {
      const id = randomBytes(6).toString('hex');
      if (isOpenEOError(error)) {
        ctx.status = error.status;
        ctx.body = { id, code: error.code, message: error.message, links: [], ...(error.details ?? {}) };
        if (error.status === 401) ctx.set('WWW-Authenticate', 'Bearer realm="openEO"');
        return;
      }
      const status = (error as { status?: number }).status;
      if (status === 400 && (error as { type?: string }).type?.includes('parse')) {
        ctx.status = 400;
        ctx.body = { id, code: 'JsonInvalid', message: `the request body is not valid JSON: ${describeError(error)}`, links: [] };
        return;
      }
      if (typeof status === 'number' && status >= 400 && status < 500) {
        ctx.status = status;
        ctx.body = { id, code: status === 415 ? 'ContentTypeInvalid' : status === 413 ? 'PayloadTooLarge' : 'BadRequest', message: describeError(error), links: [] };
        return;
      }
      logger.error({ err: error, requestId: id, method: ctx.method, path: ctx.path }, 'request failed');
      ctx.status = 500;
      ctx.body = { id, code: 'Internal', message: `an internal error occurred (reference ${id})`, links: [] };
    }
  };
}
