import type { GeoTransform } from '../../common/raster.js';
import type { KernelOutput } from './kernel.js';
import type { BandStatistics } from './save-statistics.js';

/** Where one chunk of the cube sits in the cube (pixels and the time indices it covers). */
export interface ChunkPlacement {
  x: number;
  y: number;
  width: number;
  height: number;
  t0: number;
  t1: number;
}

/** One band of a written file, as STAC's raster extension describes it. */
export interface WrittenBand {
  name: string;
  data_type: 'float32';
  /** 'nan' as STAC spells a NaN no-data value. */
  nodata: 'nan' | number | null;
  statistics: BandStatistics | null;
}

/**
 * Report of a written file, kept by the scheduler with the sink task and turned into a result
 * asset by the API. The file exists under its final name once this is reported (writers publish
 * by rename), so a partial listing of the results directory never shows half a file.
 */
export interface WrittenFile {
  name: string;
  /** Path relative to DATA_DIR. */
  path: string;
  bytes: number;
  /** Media type. */
  type: string;
  /** STAC asset roles; `['data']` when absent. */
  roles?: string[];
  /** Bands with statistics computed while writing (formats without bands, like PNG, have none). */
  bands?: WrittenBand[];
  /** The file's own grid when it differs from the cube's (a downsampled quick-look). */
  grid?: { epsg: number; transform: GeoTransform; width: number; height: number };
  /** A line for humans (a quick-look's colour scale). */
  description?: string;
}

/** A sink task's result: the report as its chunk and as the meta the job's outputs carry. */
export function fileReport(file: WrittenFile): KernelOutput {
  return { chunk: { kind: 'json', value: file }, meta: { files: [file] } };
}
