import { OUTPUT_FORMATS } from '../processes/save.js';
import { type ApiContext, baseUrl } from './api-context.js';
import type { EndpointRegistry } from './endpoint-registry.js';

export const API_VERSION = '1.2.0';
export const STAC_VERSION = '1.0.0';
export const BACKEND_ID = 'openeo-dask';

/** Conformance classes this back-end implements (openEO API, STAC API collections, OGC API common). */
export const CONFORMANCE = [
  'https://api.openeo.org/1.2.0',
  'https://api.stacspec.org/v1.0.0/core',
  'https://api.stacspec.org/v1.0.0/collections',
  'http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core',
  'http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections',
];

export function registerCapabilities(api: ApiContext, endpoints: EndpointRegistry): void {
  endpoints.add('GET', '/', (ctx) => {
    const base = baseUrl(api, ctx);
    ctx.body = {
      api_version: API_VERSION,
      backend_version: api.version,
      stac_version: STAC_VERSION,
      type: 'Catalog',
      id: BACKEND_ID,
      title: 'openEO on a Dask-like scheduler',
      description: 'An openEO back-end that compiles process graphs into chunked task graphs and runs them on a distributed scheduler with data-locality placement. Sentinel-2 L2A and NOAA OISST collections.',
      production: false,
      conformsTo: CONFORMANCE,
      endpoints: endpoints.list(),
      links: [
        { rel: 'self', href: `${base}/`, type: 'application/json', title: 'Capabilities' },
        { rel: 'version-history', href: `${base}/.well-known/openeo`, type: 'application/json', title: 'Supported API versions' },
        { rel: 'data', href: `${base}/collections`, type: 'application/json', title: 'Collections' },
        { rel: 'conformance', href: `${base}/conformance`, type: 'application/json', title: 'Conformance classes' },
      ],
    };
  });
  endpoints.add('GET', '/.well-known/openeo', (ctx) => {
    ctx.body = { versions: [{ url: `${baseUrl(api, ctx)}/`, api_version: API_VERSION, production: false }] };
  });
  endpoints.add('GET', '/conformance', (ctx) => {
    ctx.body = { conformsTo: CONFORMANCE };
  });
  endpoints.add('GET', '/file_formats', (ctx) => {
    const output: Record<string, unknown> = {};
    for (const [name, spec] of Object.entries(OUTPUT_FORMATS)) {
      output[name] = { title: spec.title, description: spec.description, gis_data_types: spec.gis_data_types, parameters: spec.parameters };
    }
    ctx.body = { input: {}, output };
  });
}
