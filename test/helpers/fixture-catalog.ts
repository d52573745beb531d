import { readFileSync } from 'node:fs';
import { Catalog, type CogItem } from '../../ingest/catalog.js';
import { cogItemFromStac, mergeBands, type StacItem } from '../../ingest/stac-items.js';
import { sharedPath } from './shared.js';

/** Registers the fixture Sentinel-2 items (one of the two STAC layouts) as collection `id`. */
export async function registerFixtureS2(dataDir: string, layout: 'earth-search' | 'cdse', id = 'SENTINEL2_L2A'): Promise<Catalog> {
  const location = sharedPath('fixtures', 's2', layout, 'items.json');
  const collection = JSON.parse(readFileSync(location, 'utf8')) as { features: StacItem[] };
  const converted = collection.features.map((feature) => cogItemFromStac(feature, location));
  const items: CogItem[] = converted.map((c) => c.item);
  const catalog = new Catalog(dataDir);
  await catalog.put({ id, stac: { id, type: 'Collection', stac_version: '1.0.0', description: 'fixture', license: 'proprietary', extent: {}, links: [] }, source: { kind: 'cog-items', bands: mergeBands(converted.map((c) => c.bands)), items } });
  return catalog;
}

export function expectedValues(): Record<string, any> {
  return JSON.parse(readFileSync(sharedPath('fixtures', 'expected.json'), 'utf8')) as Record<string, any>;
}
