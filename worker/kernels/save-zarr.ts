import { mkdir } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { BytesChunk } from '../../common/chunk.js';
import { TaskError } from '../../common/errors.js';
import type { GeoTransform } from '../../common/raster.js';
import { resolveDataPath } from '../ir/reads.js';
import { extractTile } from '../io/cog-tile-encoder.js';
import { cfGridMappingAttributes, wktForEpsg } from '../io/crs-wkt.js';
import { CF_CONVENTIONS, gridCoordinates, timeCoordinate } from '../io/netcdf-writer.js';
import { encodeZarrChunk, type ZarrCoordinate, type ZarrDataArray, writeZarrZip } from '../io/zarr-writer.js';
import { arrayInputs } from './cube-kernels.js';
import type { KernelDefinition } from './kernel.js';
import { fileReport, type WrittenFile } from './save-report.js';
import { emptyStatistics, finalStatistics, mergeStatistics, type PartialStatistics, statisticsOf } from './save-statistics.js';
import { cutWindow, type OutputWindow, type PlanePart } from './save-window.js';

/**
 * Media type of zipped Zarr results. Zarr has no registered media type; this is what archives
 * of stores are served as, and the asset title says what is inside.
 */
export const ZARR_ZIP_MEDIA_TYPE = 'application/zip';

export interface ZarrChunkArgs {
  window: OutputWindow;
  /** Spatial chunk edge (px): chunks are square, edges padded with NaN. */
  chunkSize: number;
  parts: PlanePart[];
  deflateLevel: number;
}

interface ZarrChunkInfo {
  /** All pixels NaN: nothing is stored, readers see the fill value. */
  empty: boolean;
  statistics: PartialStatistics;
}

/** One spatial chunk of one band and date of a Zarr result, encoded where its data is. */
export const saveZarrChunk: KernelDefinition = {
  placement: 'thread',
  async run(args: ZarrChunkArgs, inputs) {
    const { window, chunkSize } = args;
    const region = cutWindow(arrayInputs(inputs), args.parts, window);
    const statistics = statisticsOf(region);
    const info: ZarrChunkInfo = { empty: statistics.valid === 0, statistics };
    const data = info.empty ? new Uint8Array(0) : await encodeZarrChunk(extractTile(region, window.width, window.height, 0, 0, chunkSize, NaN) as Float32Array, [chunkSize, chunkSize], args.deflateLevel);
    const chunk: BytesChunk = { kind: 'bytes', data, info: info as unknown as Record<string, unknown> };
    return { chunk };
  },
};

export interface ZarrStoreArgs {
  path: string;
  grid: { epsg: number; transform: GeoTransform; width: number; height: number };
  /** Dates of the time dimension, when the cube has one. */
  times: string[] | null;
  /** One data array per band (its label), or one named `data`. */
  arrays: string[];
  chunkSize: number;
  deflateLevel: number;
}

/**
 * Assembles a Zarr v3 store (zipped) from encoded chunks. Inputs come array by array, then date
 * by date, then row by row of chunks: data arrays are [time, y, x] (or [y, x]) with chunks of
 * one date and `chunkSize`² pixels.
 */
export const saveZarr: KernelDefinition = {
  placement: 'thread',
  async run(args: ZarrStoreArgs, inputs, context) {
    const { grid, chunkSize } = args;
    const rows = Math.ceil(grid.height / chunkSize);
    const cols = Math.ceil(grid.width / chunkSize);
    const steps = args.times?.length ?? 1;
    if (inputs.length !== args.arrays.length * steps * rows * cols) throw new TaskError('internal', `Zarr store: ${inputs.length} chunks for ${args.arrays.length} arrays of ${steps} x ${rows} x ${cols}`);
    const spatial = gridCoordinates(grid.epsg, grid.transform, grid.width, grid.height);
    const coordinates: ZarrCoordinate[] = spatial.coordinates.map((c) => ({ name: c.name, values: Float64Array.from(c.values), attributes: c.attributes }));
    const dims = spatial.dims.map((d) => d.name);
    if (args.times) {
      const time = timeCoordinate(args.times);
      coordinates.unshift({ name: time.coordinate.name, values: Float64Array.from(time.coordinate.values), attributes: time.coordinate.attributes });
      dims.unshift(time.dim.name);
    }
    let next = 0;
    const bands: WrittenFile['bands'] = [];
    const arrays: ZarrDataArray[] = args.arrays.map((name) => {
      let statistics = emptyStatistics();
      const chunks: ZarrDataArray['chunks'] = [];
      for (let t = 0; t < steps; t++) {
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < cols; c++) {
            const input = inputs[next++]!;
            if (input.kind !== 'bytes') throw new TaskError('internal', 'a Zarr chunk is not encoded bytes');
            const info = input.info as unknown as ZarrChunkInfo;
            statistics = mergeStatistics(statistics, info.statistics);
            if (!info.empty) chunks.push({ index: args.times ? [t, r, c] : [r, c], data: input.data });
          }
        }
      }
      bands.push({ name, data_type: 'float32', nodata: 'nan', statistics: finalStatistics(statistics) });
      return {
        name,
        dims,
        shape: args.times ? [steps, grid.height, grid.width] : [grid.height, grid.width],
        chunkShape: args.times ? [1, chunkSize, chunkSize] : [chunkSize, chunkSize],
        attributes: { long_name: name },
        chunks,
      };
    });
    if (context.signal.aborted) throw new TaskError('canceled', 'canceled');
    const wkt = wktForEpsg(grid.epsg);
    const path = resolveDataPath(context.dataDir, args.path);
    await mkdir(dirname(path), { recursive: true });
    const { bytes } = await writeZarrZip(path, {
      attributes: { Conventions: CF_CONVENTIONS, title: 'openEO result', source: 'openEO process graph' },
      coordinates,
      arrays,
      gridMapping: { ...cfGridMappingAttributes(grid.epsg), crs_wkt: wkt, spatial_ref: wkt, GeoTransform: grid.transform.map(String).join(' ') },
      deflateLevel: args.deflateLevel,
    });
    return fileReport({ name: basename(path), path: args.path, bytes, type: ZARR_ZIP_MEDIA_TYPE, bands, description: 'Zarr v3 store in a ZIP archive (stored entries)' });
  },
};
