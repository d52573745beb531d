import { Catalog, type CogAsset, type CogItemsSource } from '../../ingest/catalog.js';

/** Days between the acquisitions of the long series (Sentinel-2's revisit with two satellites). */
export const LONG_SERIES_STEP_DAYS = 5;
/** Date i scales red and near-infrared by 1 + i / this (see registerLongSeries). */
const LONG_SERIES_SCALE_STEPS = 1000;

/**
 * A collection `id` with `dates` acquisitions made by reusing the sample's Sentinel-2 scenes in
 * turn: a long time series whose data outgrows a worker's memory, with known values.
 */
export async function registerLongSeries(dataDir: string, id: string, dates: number): Promise<void> {
  const catalog = new Catalog(dataDir);
  const sample = await catalog.get('SENTINEL2_L2A');
  if (!sample || sample.source.kind !== 'cog-items') throw new Error('the sample Sentinel-2 collection is missing');
  const scenes = sample.source.items;
  const start = Date.parse('2019-01-01T10:30:21Z');
  const items = Array.from({ length: dates }, (_, i) => {
    const scene = scenes[i % scenes.length]!;
    // Red and near-infrared of each date get a scale of their own: a normalized difference does
    // not change, but the reads differ, so each date is work of its own (identical reads would be
    // computed once) and the series really outgrows a worker's memory.
    const rescaled = (band: string): Record<string, CogAsset> => {
      const asset = scene.assets[band];
      return asset ? { [band]: { ...asset, scale: asset.scale * (1 + i / LONG_SERIES_SCALE_STEPS) } } : {};
    };
    return {
      ...scene,
      id: `${scene.id}-long-${i}`,
      datetime: new Date(start + i * LONG_SERIES_STEP_DAYS * 86_400_000).toISOString(),
      assets: { ...scene.assets, ...rescaled('B04'), ...rescaled('B08') },
    };
  });
  const source: CogItemsSource = { kind: 'cog-items', bands: sample.source.bands, items };
  await catalog.put({ id, stac: { ...sample.stac, id, title: `${dates}-date series for tests`, 'openeo:sample_data': true }, source });
}

/** The NDVI composite graph over a whole collection (no spatial or temporal limits). */
export function ndviCompositeGraph(collection: string, reducer: 'max' | 'mean' = 'max'): Record<string, unknown> {
  return {
    load: { process_id: 'load_collection', arguments: { id: collection, spatial_extent: null, temporal_extent: null, bands: ['B04', 'B08', 'SCL'] } },
    ndvi: {
      process_id: 'reduce_dimension',
      arguments: {
        data: { from_node: 'load' },
        dimension: 'bands',
        reducer: {
          process_graph: {
            red: { process_id: 'array_element', arguments: { data: { from_parameter: 'data' }, label: 'B04' } },
            nir: { process_id: 'array_element', arguments: { data: { from_parameter: 'data' }, label: 'B08' } },
            scl: { process_id: 'array_element', arguments: { data: { from_parameter: 'data' }, label: 'SCL' } },
            nd: { process_id: 'normalized_difference', arguments: { x: { from_node: 'nir' }, y: { from_node: 'red' } } },
            cloud: { process_id: 'gte', arguments: { x: { from_node: 'scl' }, y: 8 } },
            clear: { process_id: 'not', arguments: { x: { from_node: 'cloud' } } },
            out: { process_id: 'if', arguments: { value: { from_node: 'clear' }, accept: { from_node: 'nd' } }, result: true },
          },
        },
      },
    },
    composite: {
      process_id: 'reduce_dimension',
      arguments: { data: { from_node: 'ndvi' }, dimension: 't', reducer: { process_graph: { r: { process_id: reducer, arguments: { data: { from_parameter: 'data' } }, result: true } } } },
    },
    save: { process_id: 'save_result', arguments: { data: { from_node: 'composite' }, format: 'GTiff' }, result: true },
  };
}
