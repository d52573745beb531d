import type Router from '@koa/router';
import type { Middleware } from 'koa';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/**
 * Registers routes by their openEO path (`/jobs/{job_id}`) and remembers them, so GET /
 * lists exactly the endpoints that are implemented.
 */
export class EndpointRegistry {
  private readonly endpoints = new Map<string, Set<HttpMethod>>();

  /** The router, for routes that are not openEO endpoints (signed result links). */
  constructor(readonly router: Router) {}

  add(method: HttpMethod, path: string, ...handlers: Middleware[]): void {
    const koaPath = path.replace(/\{(\w+)\}/g, ':$1');
    const verb = method.toLowerCase() as 'get' | 'post' | 'patch' | 'put' | 'delete';
    (this.router[verb] as (path: string, ...middleware: Middleware[]) => Router)(koaPath, ...handlers);
    const methods = this.endpoints.get(path) ?? new Set<HttpMethod>();
    methods.add(method);
    this.endpoints.set(path, methods);
  }

  /** Endpoints as GET / lists them. */
  list(): { path: string; methods: HttpMethod[] }[] {
    return [...this.endpoints.entries()].map(([path, methods]) => ({ path, methods: [...methods].sort() }));
  }
}
