import { OpenEOError } from '../../common/errors.js';
import type { ApiContext } from './api-context.js';
import type { EndpointRegistry } from './endpoint-registry.js';

export function registerProcesses(api: ApiContext, endpoints: EndpointRegistry): void {
  endpoints.add('GET', '/processes', (ctx) => {
    ctx.body = { processes: api.registry.definitions(), links: [] };
  });
  endpoints.add('POST', '/validation', async (ctx) => {
    try {
      await api.jobs.validate(ctx.request.body);
      ctx.body = { errors: [] };
    } catch (error) {
      if (!(error instanceof OpenEOError)) throw error;
      ctx.body = { errors: [{ code: error.code, message: error.message }] };
    }
  });
}
