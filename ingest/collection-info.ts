import { redactUrl } from './download/credentials.js';
import type { CollectionInfo, StacProvider } from './stac-metadata.js';

/**
 * What the public STAC metadata says about ingested (real) collections: titles, licences,
 * providers. Extents, grids and bands come from the data itself (stac-metadata.ts).
 */

/** ESA produces Sentinel-2 L2A and licenses it under the Copernicus data terms. */
export const ESA_PROVIDER: StacProvider = {
  name: 'European Space Agency (Copernicus)',
  description: 'Sentinel-2 L2A surface reflectance, under the legal notice on the use of Copernicus Sentinel data',
  roles: ['producer', 'licensor'],
  url: 'https://sentinel.esa.int/web/sentinel/missions/sentinel-2',
};

/** NOAA produces OISST v2.1 and distributes it without restrictions on use. */
export const NOAA_PROVIDER: StacProvider = {
  name: 'NOAA National Centers for Environmental Information',
  description: 'Optimum Interpolation Sea Surface Temperature (OISST) v2.1',
  roles: ['producer', 'licensor'],
  url: 'https://www.ncei.noaa.gov/products/optimum-interpolation-sst',
};

/** The machine that did the ingest and serves the data. */
const PROCESSOR: StacProvider = { name: 'openeo-dask-ts ingest', roles: ['processor', 'host'] };

/** Where the data were found, as a host provider (URL without credentials or query), for each distinct source. */
export function sourceProviders(sources: readonly string[]): StacProvider[] {
  const seen = new Set<string>();
  const providers: StacProvider[] = [];
  for (const source of sources) {
    const url = /^https?:\/\//i.test(source) ? redactUrl(source) : null;
    const name = url ? new URL(url).host : 'local files';
    if (seen.has(name)) continue;
    seen.add(name);
    providers.push(url ? { name, roles: ['host'], url } : { name, roles: ['host'] });
  }
  return providers;
}

export function sentinel2Info(options: { platforms: string[]; sources: string[] }): CollectionInfo {
  return {
    title: 'Sentinel-2 L2A',
    description:
      'Sentinel-2 Level-2A bottom-of-atmosphere reflectance from the MultiSpectral Instrument, ingested from STAC: ' +
      'one item per tile and acquisition, each band a Cloud-Optimized GeoTIFF in the UTM zone of its tile, bands named ' +
      'by their MSI ids (B01…B12, B8A) and the scene classification SCL. Reflectance = DN × scale + offset from the ' +
      'item metadata.',
    license: 'proprietary',
    providers: [ESA_PROVIDER, ...sourceProviders(options.sources), PROCESSOR],
    keywords: ['Sentinel-2', 'L2A', 'surface reflectance', 'Copernicus', 'MSI'],
    sample: false,
    platforms: [...new Set(options.platforms)].sort(),
    constellation: 'sentinel-2',
    instruments: ['msi'],
  };
}

export function oisstInfo(options: { products: string[]; sources: string[] }): CollectionInfo {
  return {
    title: 'NOAA OISST v2.1 daily sea surface temperature',
    description:
      'NOAA 1/4° daily Optimum Interpolation Sea Surface Temperature (OISST) v2.1 in °C on the global 0.25° grid, ' +
      `NaN over land, ingested from ${options.products.join(' and ')} into a Zarr v3 cube that grows by day.`,
    license: 'proprietary',
    providers: [NOAA_PROVIDER, ...sourceProviders(options.sources), PROCESSOR],
    keywords: ['sea surface temperature', 'SST', 'OISST', 'ocean', 'NOAA', 'AVHRR'],
    sample: false,
  };
}
