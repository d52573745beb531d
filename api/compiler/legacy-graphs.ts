import { OpenEOError } from '../../common/errors.js';
import type { ProcessGraph, ProcessNode } from './process-graph.js';

/**
 * The process graphs of the predecessor system (2020) keep working: they are rewritten into
 * standard openEO processes before validation. Its vocabulary:
 * - `load_collection` with `DataType` ("SST" | "Sentinel2"), `timeframe` [start, end, strptime
 *   format], optional `cloudcoverage` [min, max] and `Login` (credentials: dropped, never logged);
 * - `mean_sst(data, timeframe, bbox)`: NaN-skipping time mean, bbox [west, south, east, north]
 *   in 0–360° longitude (west > east wraps across 0°), `[-999, …]` for the whole globe;
 * - `ndvi(data, bb)`: NDVI of the time-averaged red and near-infrared bands, `bb` like `bbox`
 *   but in −180–180° longitude;
 * - `save_result(SaveData, Format)`.
 */

/** Collections behind the predecessor's `DataType` names. */
export const LEGACY_COLLECTIONS: Record<string, string> = { SST: 'OISST', Sentinel2: 'SENTINEL2_L2A' };
/** Its "whole extent" sentinel in bbox arguments. */
export const LEGACY_WHOLE_EXTENT = -999;
/** Arguments that carried credentials; removed wherever they appear. */
export const LEGACY_CREDENTIAL_ARGUMENTS = ['Login', 'login', 'credentials', 'password'];

const LEGACY_PROCESSES = new Set(['mean_sst']);

/** Whether a graph uses the predecessor's vocabulary. */
export function isLegacyGraph(graph: ProcessGraph): boolean {
  return Object.values(graph).some(
    (node) =>
      LEGACY_PROCESSES.has(node.process_id) ||
      (node.process_id === 'load_collection' && node.arguments !== undefined && 'DataType' in node.arguments) ||
      (node.process_id === 'save_result' && node.arguments !== undefined && 'SaveData' in node.arguments) ||
      (node.process_id === 'ndvi' && node.arguments !== undefined && 'bb' in node.arguments),
  );
}

/** A copy of the graph without credential arguments (what is stored and shown back). */
export function withoutCredentials(graph: ProcessGraph): ProcessGraph {
  const copy: ProcessGraph = {};
  for (const [id, node] of Object.entries(graph)) {
    const args = { ...(node.arguments ?? {}) };
    for (const name of LEGACY_CREDENTIAL_ARGUMENTS) delete args[name];
    copy[id] = { ...node, arguments: args };
  }
  return copy;
}

/**
 * Parses a date with a strptime-style format (%d %m %Y %H %M %S %y %b) as UTC; the subset the
 * predecessor's clients used.
 */
export function parseStrptime(text: string, format: string): string {
  const fields: Record<string, number> = { Y: 1970, m: 1, d: 1, H: 0, M: 0, S: 0 };
  const months = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
  let t = 0;
  for (let f = 0; f < format.length; f++) {
    const c = format[f]!;
    if (c !== '%') {
      if (text[t] !== c) throw new Error(`"${text}" does not match "${format}"`);
      t++;
      continue;
    }
    const spec = format[++f]!;
    if (spec === 'b') {
      const month = months.indexOf(text.slice(t, t + 3).toLowerCase());
      if (month < 0) throw new Error(`"${text}" has no month name at ${t}`);
      fields.m = month + 1;
      t += 3;
      continue;
    }
    const width = spec === 'Y' ? 4 : 2;
    const digits = text.slice(t, t + width);
    if (!/^\d+$/.test(digits)) throw new Error(`"${text}" has no %${spec} at ${t}`);
    fields[spec === 'y' ? 'Y' : spec] = spec === 'y' ? 2000 + Number(digits) : Number(digits);
    t += width;
  }
  const date = new Date(Date.UTC(fields.Y!, fields.m! - 1, fields.d!, fields.H!, fields.M!, fields.S!));
  if (Number.isNaN(date.getTime())) throw new Error(`"${text}" is not a valid date`);
  return date.toISOString().replace('.000Z', 'Z');
}

function invalid(node: string, message: string): OpenEOError {
  return new OpenEOError('ProcessParameterInvalid', `${message} (node "${node}")`);
}

function timeframe(node: string, value: unknown): [string, string] {
  if (!Array.isArray(value) || value.length < 2) throw invalid(node, 'timeframe must be [start, end] or [start, end, format]');
  const [start, end, format] = value as [unknown, unknown, unknown];
  if (typeof start !== 'string' || typeof end !== 'string') throw invalid(node, 'timeframe dates must be strings');
  if (typeof format === 'string') {
    try {
      return [parseStrptime(start, format), parseStrptime(end, format)];
    } catch (error) {
      throw invalid(node, `timeframe: ${(error as Error).message}`);
    }
  }
  return [start, end];
}

/** [west, south, east, north] or null for the whole extent. */
function box(node: string, value: unknown, longitudes0to360: boolean): { west: number; south: number; east: number; north: number } | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || value.length !== 4 || !value.every((v) => typeof v === 'number')) throw invalid(node, 'bbox must be [west, south, east, north]');
  const [west, south, east, north] = value as number[];
  if ([west, south, east, north].every((v) => v === LEGACY_WHOLE_EXTENT)) return null;
  const signed = (lon: number): number => (longitudes0to360 && lon > 180 ? lon - 360 : lon);
  // In 0–360°, west > east means the box crosses 0°; in −180–180° it may then be contiguous again.
  return { west: signed(west!), south: south!, east: signed(east!), north: north! };
}

/** Rewrites a predecessor graph into standard processes; other graphs are returned unchanged. */
export function translateLegacyGraph(graph: ProcessGraph): ProcessGraph {
  if (!isLegacyGraph(graph)) return graph;
  const out: ProcessGraph = {};
  const temporal: Record<string, [string, string]> = {};
  for (const [id, node] of Object.entries(graph)) {
    const args = node.arguments ?? {};
    switch (node.process_id) {
      case 'load_collection': {
        if (!('DataType' in args)) {
          out[id] = node;
          break;
        }
        const collection = LEGACY_COLLECTIONS[String(args.DataType)];
        if (!collection) throw new OpenEOError('CollectionNotFound', `DataType "${String(args.DataType)}" is unknown; known: ${Object.keys(LEGACY_COLLECTIONS).join(', ')} (node "${id}")`);
        const extent = args.timeframe === undefined ? null : timeframe(id, args.timeframe);
        if (extent) temporal[id] = extent;
        const load: ProcessNode = {
          process_id: 'load_collection',
          arguments: { id: collection, spatial_extent: null, temporal_extent: extent, bands: collection === 'OISST' ? ['sst'] : ['B04', 'B08'] },
        };
        if (Array.isArray(args.cloudcoverage) && args.cloudcoverage.length === 2) {
          const [min, max] = args.cloudcoverage as [number, number];
          load.arguments.properties = {
            'eo:cloud_cover': { process_graph: { cc: { process_id: 'between', arguments: { x: { from_parameter: 'value' }, min, max }, result: true } } },
          };
        }
        if (node.result) load.result = true;
        out[id] = load;
        break;
      }
      case 'mean_sst': {
        const data = args.data;
        let source = data;
        const area = box(id, args.bbox, true);
        if (area) {
          out[`${id}__bbox`] = { process_id: 'filter_bbox', arguments: { data, extent: { ...area, crs: 4326 } } };
          source = { from_node: `${id}__bbox` };
        }
        if (args.timeframe !== undefined) {
          out[`${id}__time`] = { process_id: 'filter_temporal', arguments: { data: source, extent: timeframe(id, args.timeframe) } };
          source = { from_node: `${id}__time` };
        }
        out[id] = {
          process_id: 'reduce_dimension',
          arguments: { data: source, dimension: 't', reducer: { process_graph: { mean: { process_id: 'mean', arguments: { data: { from_parameter: 'data' }, ignore_nodata: true }, result: true } } } },
          ...(node.result ? { result: true } : {}),
        };
        break;
      }
      case 'ndvi': {
        if (!('bb' in args)) {
          out[id] = node;
          break;
        }
        let source = args.data;
        const area = box(id, args.bb, false);
        if (area) {
          out[`${id}__bbox`] = { process_id: 'filter_bbox', arguments: { data: source, extent: { ...area, crs: 4326 } } };
          source = { from_node: `${id}__bbox` };
        }
        out[`${id}__mean`] = {
          process_id: 'reduce_dimension',
          arguments: { data: source, dimension: 't', reducer: { process_graph: { mean: { process_id: 'mean', arguments: { data: { from_parameter: 'data' }, ignore_nodata: true }, result: true } } } },
        };
        out[id] = { process_id: 'ndvi', arguments: { data: { from_node: `${id}__mean` }, nir: 'B08', red: 'B04' }, ...(node.result ? { result: true } : {}) };
        break;
      }
      case 'save_result': {
        if (!('SaveData' in args)) {
          out[id] = node;
          break;
        }
        out[id] = { process_id: 'save_result', arguments: { data: args.SaveData, format: args.Format ?? 'netCDF' }, ...(node.result ? { result: true } : {}) };
        break;
      }
      default:
        out[id] = node;
    }
  }
  // The predecessor ran every node and had no "result" flag: the save node is the result.
  if (!Object.values(out).some((n) => n.result === true)) {
    const save = Object.entries(out).find(([, n]) => n.process_id === 'save_result') ?? Object.entries(out).at(-1);
    if (save) save[1].result = true;
  }
  return out;
}
