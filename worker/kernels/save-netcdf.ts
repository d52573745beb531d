import { mkdir, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { TaskError } from '../../common/errors.js';
import type { GeoTransform } from '../../common/raster.js';
import { resolveDataPath } from '../ir/reads.js';
import { wktForEpsg } from '../io/crs-wkt.js';
import { gridCoordinates, type NetcdfDimension, type NetcdfVariable, timeCoordinate, writeNetcdf } from '../io/netcdf-writer.js';
import { arrayInputs } from './cube-kernels.js';
import type { KernelDefinition } from './kernel.js';
import { type ChunkPlacement, fileReport, type WrittenFile } from './save-report.js';
import { finalStatistics, statisticsOf } from './save-statistics.js';

/** Media type of result NetCDF files. */
export const NETCDF_MEDIA_TYPE = 'application/netcdf';

export interface SaveNetcdfArgs {
  path: string;
  grid: { epsg: number; transform: GeoTransform; width: number; height: number };
  dims: { name: string; type: string; labels: (string | number)[] }[];
  parts: ChunkPlacement[];
  deflateLevel: number | null;
}

/**
 * Gathers the chunks of a cube and writes one CF NetCDF-4 file: a variable per band (or
 * `data`), with a time dimension when the cube has one.
 */
export const saveNetcdf: KernelDefinition = {
  // HDF5 compression blocks for a while: keep it off the event loop that answers heartbeats.
  placement: 'thread',
  async run(args: SaveNetcdfArgs, inputs, context) {
    const chunks = arrayInputs(inputs);
    const { grid } = args;
    const time = args.dims.find((d) => d.type === 'temporal');
    const bands = args.dims.find((d) => d.type === 'bands');
    const other = args.dims.filter((d) => d !== time && d !== bands);
    if (other.length > 0) throw new TaskError('user', `netCDF output supports time and bands dimensions; the cube also has ${other.map((d) => d.name).join(', ')}`, { openeoCode: 'FormatUnsupported' });
    const steps = time ? time.labels.length : 1;
    const variableNames = bands ? bands.labels.map(String) : ['data'];
    const plane = grid.width * grid.height;
    const data = variableNames.map(() => new Float32Array(steps * plane).fill(NaN));
    chunks.forEach((chunk, i) => {
      const part = args.parts[i]!;
      // Chunk layout: [t?, bands?, y, x]
      const hasT = chunk.dims.includes(time?.name ?? '\0');
      const hasB = chunk.dims.includes(bands?.name ?? '\0');
      const nt = hasT ? part.t1 - part.t0 : 1;
      const nb = hasB ? chunk.shape[chunk.dims.indexOf(bands!.name)]! : 1;
      for (let t = 0; t < nt; t++) {
        for (let b = 0; b < nb; b++) {
          const target = data[b]!;
          const srcPlane = ((hasT ? t * nb : 0) + (hasB ? b : 0)) * part.width * part.height;
          const dstT = hasT ? part.t0 + t : 0;
          for (let r = 0; r < part.height; r++) {
            const src = srcPlane + r * part.width;
            target.set(chunk.data.subarray(src, src + part.width) as Float32Array, dstT * plane + (part.y + r) * grid.width + part.x);
          }
        }
      }
    });
    if (context.signal.aborted) throw new TaskError('canceled', 'canceled');
    const spatial = gridCoordinates(grid.epsg, grid.transform, grid.width, grid.height);
    const dims: NetcdfDimension[] = [];
    const coordinates = [...spatial.coordinates];
    const dataDims = spatial.dims.map((d) => d.name);
    if (time) {
      const t = timeCoordinate(time.labels.map(String));
      dims.push(t.dim);
      coordinates.unshift(t.coordinate);
      dataDims.unshift(t.dim.name);
    }
    dims.push(...spatial.dims);
    const variables: NetcdfVariable[] = variableNames.map((name, i) => ({ name, dims: dataDims, data: data[i]!, fillValue: NaN, attributes: { long_name: name } }));
    const path = resolveDataPath(context.dataDir, args.path);
    await mkdir(dirname(path), { recursive: true });
    const { bytes } = await writeNetcdf(path, {
      dims,
      coordinates,
      variables,
      crs: { epsg: grid.epsg, wkt: wktForEpsg(grid.epsg), geoTransform: grid.transform },
      globalAttributes: { title: 'openEO result', source: 'openEO process graph' },
      compression: { level: args.deflateLevel ?? 1 },
    });
    const file: WrittenFile = {
      name: basename(path),
      path: args.path,
      bytes: bytes || (await stat(path)).size,
      type: NETCDF_MEDIA_TYPE,
      bands: variableNames.map((name, i) => ({ name, data_type: 'float32', nodata: 'nan', statistics: finalStatistics(statisticsOf(data[i]!)) })),
    };
    return fileReport(file);
  },
};
