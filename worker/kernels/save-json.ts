import { mkdir } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { TaskError } from '../../common/errors.js';
import type { GeoTransform } from '../../common/raster.js';
import { type VectorDimension, vectorValuesDocument } from '../../common/vector-values.js';
import { resolveDataPath } from '../ir/reads.js';
import { wktForEpsg } from '../io/crs-wkt.js';
import { cubeDocument, type JsonCoordinate, writeJsonFile } from '../io/json-writer.js';
import { gridCoordinates } from '../io/netcdf-writer.js';
import { arrayInputs } from './cube-kernels.js';
import type { KernelDefinition } from './kernel.js';
import { type ChunkPlacement, fileReport, type WrittenBand } from './save-report.js';
import { emptyStatistics, finalStatistics, mergeStatistics, statisticsOf } from './save-statistics.js';

/** Media type of JSON results. */
export const JSON_MEDIA_TYPE = 'application/json';

export interface SaveJsonCubeArgs {
  path: string;
  grid: { epsg: number; transform: GeoTransform; width: number; height: number };
  /** Non-spatial dimensions in cube order (chunks are [...these, y, x]). */
  dims: { name: string; type: string; labels: (string | number)[] }[];
  parts: ChunkPlacement[];
}

export interface SaveJsonVectorArgs {
  path: string;
  /** Zonal statistics: the input holds the values, row-major over `dims`. */
  vector: { statistic: string; dims: VectorDimension[]; geometries: unknown[] };
}

export interface SaveJsonValueArgs {
  path: string;
  /** A value known when the graph was compiled (a number, an array, an object). */
  value: unknown;
}

/**
 * Gathers a small cube and writes it as labelled JSON (xarray's dictionary layout), or writes a
 * plain value. The compiler only sends cubes of at most MAX_JSON_VALUES values here.
 */
export const saveJson: KernelDefinition = {
  placement: 'thread',
  async run(args: SaveJsonCubeArgs | SaveJsonVectorArgs | SaveJsonValueArgs, inputs, context) {
    const path = resolveDataPath(context.dataDir, args.path);
    await mkdir(dirname(path), { recursive: true });
    if ('value' in args) {
      const { bytes } = await writeJsonFile(path, args.value);
      return fileReport({ name: basename(path), path: args.path, bytes, type: JSON_MEDIA_TYPE });
    }
    if ('vector' in args) {
      const [values] = arrayInputs(inputs);
      const expected = args.vector.dims.reduce((n, d) => n * d.labels.length, 1);
      if (!values || values.data.length !== expected) throw new TaskError('internal', `zonal statistics have ${values?.data.length ?? 0} values, their dimensions ${expected}`);
      const { bytes } = await writeJsonFile(path, vectorValuesDocument(args.vector, values.data));
      return fileReport({ name: basename(path), path: args.path, bytes, type: JSON_MEDIA_TYPE });
    }
    const { grid, dims } = args;
    const timeIndex = dims.findIndex((d) => d.type === 'temporal');
    const outer = dims.map((d) => d.labels.length);
    const planes = outer.reduce((a, b) => a * b, 1);
    const plane = grid.width * grid.height;
    const values = new Float32Array(planes * plane).fill(NaN);
    arrayInputs(inputs).forEach((chunk, i) => {
      const part = args.parts[i]!;
      // The chunk holds the time block [t0, t1) of the temporal dimension and all labels of the others.
      const chunkOuter = outer.map((n, d) => (d === timeIndex ? part.t1 - part.t0 : n));
      const chunkPlanes = chunkOuter.reduce((a, b) => a * b, 1);
      if (chunk.data.length !== chunkPlanes * part.width * part.height) throw new TaskError('internal', `chunk ${i} has ${chunk.data.length} values, its placement ${chunkPlanes * part.width * part.height}`);
      for (let p = 0; p < chunkPlanes; p++) {
        // Index of this chunk plane in the cube: unravel over the chunk's outer shape, shift the time index.
        let rest = p;
        let target = 0;
        for (let d = outer.length - 1, stride = 1; d >= 0; d--) {
          const index = rest % chunkOuter[d]!;
          rest = Math.floor(rest / chunkOuter[d]!);
          target += (d === timeIndex ? index + part.t0 : index) * stride;
          stride *= outer[d]!;
        }
        for (let r = 0; r < part.height; r++) {
          const src = (p * part.height + r) * part.width;
          values.set(chunk.data.subarray(src, src + part.width) as Float32Array, target * plane + (part.y + r) * grid.width + part.x);
        }
      }
    });
    const spatial = gridCoordinates(grid.epsg, grid.transform, grid.width, grid.height);
    const coords: Record<string, JsonCoordinate> = {};
    for (const dim of dims) coords[dim.name] = { dims: [dim.name], data: dim.labels };
    for (const c of spatial.coordinates) coords[c.name] = { dims: [c.name], data: Array.from(c.values), attrs: c.attributes };
    const document = cubeDocument({
      name: 'result',
      dims: [...dims.map((d) => d.name), ...spatial.dims.map((d) => d.name)],
      shape: [...outer, grid.height, grid.width],
      coords,
      attrs: { crs: `EPSG:${grid.epsg}`, crs_wkt: wktForEpsg(grid.epsg), GeoTransform: grid.transform, nodata: null },
      values,
    });
    const { bytes } = await writeJsonFile(path, document);
    return fileReport({ name: basename(path), path: args.path, bytes, type: JSON_MEDIA_TYPE, bands: bandsOf(values, dims, plane) });
  },
};

/** Statistics per band label when the cube has bands, otherwise of all values. */
function bandsOf(values: Float32Array, dims: SaveJsonCubeArgs['dims'], plane: number): WrittenBand[] {
  const b = dims.findIndex((d) => d.type === 'bands');
  if (b < 0) return [{ name: 'data', data_type: 'float32', nodata: 'nan', statistics: finalStatistics(statisticsOf(values)) }];
  const outer = dims.map((d) => d.labels.length);
  const inner = outer.slice(b + 1).reduce((x, y) => x * y, 1) * plane;
  const bandCount = outer[b]!;
  const stats = outer[b] ? Array.from({ length: bandCount }, emptyStatistics) : [];
  for (let start = 0; start < values.length; start += inner) {
    const band = Math.floor(start / inner) % bandCount;
    stats[band] = mergeStatistics(stats[band]!, statisticsOf(values, start, start + inner));
  }
  return dims[b]!.labels.map((label, i) => ({ name: String(label), data_type: 'float32', nodata: 'nan', statistics: finalStatistics(stats[i]!) }));
}
