import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { transformBounds, WGS84 } from '../common/crs.js';
import type { GeoTransform } from '../common/raster.js';
import { writeCog } from '../worker/io/cog-writer.js';
import type { BandInfo, CogAsset, CogItem, CogItemsSource } from './catalog.js';
import { makeLandscape, renderScene, SCL_FACTOR, type SceneDate } from './sample-s2-scene.js';

/**
 * The Sentinel-2 L2A sample: one 15.36 km square of MGRS tile 32TNT (UTM zone 32N, by Lake
 * Constance) on four dates, three single-band COGs per date laid out like Earth Search's assets.
 */

/** CRS of the sample: EPSG:32632, WGS 84 / UTM zone 32N, the zone of MGRS tile 32TNT. */
export const SAMPLE_S2_EPSG = 32632;

/** MGRS tile named in the item ids: 32TNT. */
export const SAMPLE_S2_MGRS_TILE = '32TNT';

/**
 * Upper-left corner of the sample in UTM 32N: (510960, 5300040), 1098 pixels (10.98 km) east of
 * the corner of tile 32TNT (499980, 5300040), so the sample is a plausible piece of a real tile.
 */
export const SAMPLE_S2_ORIGIN: readonly [number, number] = [499980 + 10980, 5300040];

/** Size of the 10 m bands: 1536 x 1536 pixels, 3 x 3 tiles of 512, small yet spanning tile edges. */
export const SAMPLE_S2_SIZE = 1536;

/** Pixel size of B04 and B08: 10 m, their native resolution. SCL has twice that (20 m). */
export const SAMPLE_S2_PIXEL_SIZE = 10;

/** Sensing time of every date: 10:30:21 UTC, the usual overpass time of tile 32TNT. */
export const SAMPLE_S2_SENSING_TIME = '10:30:21Z';

/** Digital numbers to reflectance: 0.0001 (reflectance x 10000, no offset, processing baseline 02.14). */
export const REFLECTANCE_SCALE = 0.0001;

/** No-data value of every band: 0, as in L2A products. */
export const SAMPLE_S2_NODATA = 0;

export interface SampleS2Date extends SceneDate {
  platform: 'sentinel-2a' | 'sentinel-2b';
}

/**
 * Four dates on the 5-day revisit of the two satellites. Cloud cover is varied (one date above
 * 30 %) so that cloud filters select something; 2020-06-08 comes from the neighbouring orbit and
 * carries a swath-edge wedge of missing data.
 */
export const SAMPLE_S2_DATES: readonly SampleS2Date[] = [
  { date: '2020-06-03', platform: 'sentinel-2a', cloudCover: 0.0534, swathEdge: false },
  { date: '2020-06-08', platform: 'sentinel-2b', cloudCover: 0.2172, swathEdge: true },
  { date: '2020-06-13', platform: 'sentinel-2a', cloudCover: 0.1241, swathEdge: false },
  { date: '2020-06-18', platform: 'sentinel-2b', cloudCover: 0.4788, swathEdge: false },
];

/** Bands of the sample, named as in the L2A product. */
export const SAMPLE_S2_BANDS: readonly BandInfo[] = [
  { name: 'B04', commonName: 'red', centerWavelength: 0.665, fullWidthHalfMax: 0.038, description: 'red, surface reflectance x 10000' },
  { name: 'B08', commonName: 'nir', centerWavelength: 0.842, fullWidthHalfMax: 0.145, description: 'near infrared, surface reflectance x 10000' },
  { name: 'SCL', description: 'scene classification' },
];

/** The item id in Earth Search's form, e.g. S2A_32TNT_20200603_0_L2A. */
export function sampleItemId(when: SampleS2Date): string {
  const satellite = when.platform === 'sentinel-2a' ? 'S2A' : 'S2B';
  return `${satellite}_${SAMPLE_S2_MGRS_TILE}_${when.date.replaceAll('-', '')}_0_L2A`;
}

/**
 * Writes the sample's COGs under `dir` (one folder per item) and returns the catalog source.
 * `hrefBase` is where `dir` will be found relative to DATA_DIR, which the assets' hrefs use.
 */
export async function writeSampleSentinel2(dir: string, hrefBase: string, seed: number, size: number = SAMPLE_S2_SIZE, deflateLevel?: number): Promise<CogItemsSource> {
  const size20 = size / SCL_FACTOR;
  const [x0, y0] = SAMPLE_S2_ORIGIN;
  const pixel = SAMPLE_S2_PIXEL_SIZE;
  const transform10: GeoTransform = [x0, pixel, 0, y0, 0, -pixel];
  const transform20: GeoTransform = [x0, pixel * SCL_FACTOR, 0, y0, 0, -pixel * SCL_FACTOR];
  const bbox = transformBounds([x0, y0 - size * pixel, x0 + size * pixel, y0], SAMPLE_S2_EPSG, WGS84);
  const layout = { epsg: SAMPLE_S2_EPSG, nodata: SAMPLE_S2_NODATA };
  // The fastest encoding by default; a zlib level (GDAL's default is 6) makes files like those of data providers.
  const encoding = { compression: 'deflate', predictor: 2, ...(deflateLevel === undefined ? {} : { level: deflateLevel }) } as const;

  const landscape = makeLandscape(seed, size);
  const items: CogItem[] = [];
  for (const [index, when] of SAMPLE_S2_DATES.entries()) {
    const id = sampleItemId(when);
    const scene = renderScene(landscape, when, seed, index);
    await mkdir(join(dir, id), { recursive: true });
    await Promise.all([
      writeCog(join(dir, id, 'B04.tif'), scene.red, { ...layout, width: size, height: size, dtype: 'uint16', transform: transform10 }, encoding),
      writeCog(join(dir, id, 'B08.tif'), scene.nir, { ...layout, width: size, height: size, dtype: 'uint16', transform: transform10 }, encoding),
      // Class codes must not be averaged into codes of other classes.
      writeCog(join(dir, id, 'SCL.tif'), scene.scl, { ...layout, width: size20, height: size20, dtype: 'uint8', transform: transform20 }, { ...encoding, overviewMethod: 'nearest' }),
    ]);
    const asset = (band: string, transform: GeoTransform, shape: number, dtype: CogAsset['dtype'], scale: number): CogAsset => ({
      href: `${hrefBase}/${id}/${band}.tif`,
      transform,
      shape: [shape, shape],
      dtype,
      nodata: SAMPLE_S2_NODATA,
      scale,
      offset: 0,
    });
    items.push({
      id,
      datetime: `${when.date}T${SAMPLE_S2_SENSING_TIME}`,
      cloudCover: scene.cloudCoverPercent,
      epsg: SAMPLE_S2_EPSG,
      bbox,
      assets: {
        B04: asset('B04', transform10, size, 'uint16', REFLECTANCE_SCALE),
        B08: asset('B08', transform10, size, 'uint16', REFLECTANCE_SCALE),
        SCL: asset('SCL', transform20, size20, 'uint8', 1),
      },
    });
  }
  return { kind: 'cog-items', bands: SAMPLE_S2_BANDS.map((band) => ({ ...band })), items };
}
