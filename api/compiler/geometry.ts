import { transformer, UnsupportedCrsError, WGS84 } from '../../common/crs.js';
import { OpenEOError } from '../../common/errors.js';
import type { PolygonRings } from '../../common/ir.js';
import type { SpatialGrid, PixelRange } from './cube.js';

/**
 * GeoJSON polygons for masks, spatial filters and zonal statistics, and the pixel windows they
 * and bounding boxes cover on a grid (openEO's rule: a pixel is in when its centre is).
 */

/** Points per edge when an envelope is transformed: edges are curves in another CRS. */
const EDGE_SAMPLES = 16;
/** How far outside a window edge a pixel centre may lie and still count (rounding of reprojection), in pixels. */
const CENTRE_TOLERANCE_PX = 1e-6;

/** Geometries in one CRS: one entry per feature (its polygons), empty for an empty geometry. */
export interface GeometrySet {
  geometries: PolygonRings[][];
  epsg: number;
}

function invalid(process: string, name: string, message: string): OpenEOError {
  return new OpenEOError('ProcessParameterInvalid', `${process}: parameter "${name}" ${message}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function ring(process: string, name: string, value: unknown): [number, number][] {
  if (!Array.isArray(value) || value.some((p) => !Array.isArray(p) || p.length < 2 || typeof p[0] !== 'number' || typeof p[1] !== 'number')) {
    throw invalid(process, name, 'has a polygon ring that is not a list of [x, y] positions');
  }
  return (value as number[][]).map((p) => [p[0]!, p[1]!]);
}

function polygonsOf(process: string, name: string, geometry: unknown): PolygonRings[] {
  if (geometry === null) return [];
  if (!isRecord(geometry)) throw invalid(process, name, 'must hold GeoJSON geometries');
  switch (geometry.type) {
    case 'Polygon':
      return [(geometry.coordinates as unknown[]).map((r) => ring(process, name, r))].filter((p) => p.length > 0);
    case 'MultiPolygon':
      return (geometry.coordinates as unknown[][]).map((polygon) => polygon.map((r) => ring(process, name, r))).filter((p) => p.length > 0);
    case 'GeometryCollection':
      return (geometry.geometries as unknown[]).flatMap((g) => polygonsOf(process, name, g));
    default:
      throw new OpenEOError('FeatureUnsupported', `${process}: ${String(geometry.type)} geometries are not supported here; give polygons`);
  }
}

/** The EPSG code of a legacy GeoJSON `crs` member ({type: name, properties: {name: "EPSG:…"}}), else WGS 84. */
function crsOf(value: Record<string, unknown>): number {
  const crs = value.crs;
  if (!isRecord(crs) || !isRecord(crs.properties) || typeof crs.properties.name !== 'string') return WGS84;
  const code = /EPSG:+(\d+)$/i.exec(crs.properties.name);
  return code ? Number(code[1]) : WGS84;
}

/** A GeoJSON Polygon, MultiPolygon, Feature, FeatureCollection or GeometryCollection as geometries. */
export function parseGeometries(process: string, name: string, value: unknown): GeometrySet {
  if (!isRecord(value) || typeof value.type !== 'string') throw invalid(process, name, 'must be a GeoJSON object');
  const epsg = crsOf(value);
  switch (value.type) {
    case 'FeatureCollection': {
      const features = Array.isArray(value.features) ? value.features : [];
      return { geometries: features.map((f) => polygonsOf(process, name, isRecord(f) ? f.geometry : null)), epsg };
    }
    case 'Feature':
      return { geometries: [polygonsOf(process, name, value.geometry)], epsg };
    default:
      return { geometries: [polygonsOf(process, name, value)], epsg };
  }
}

/** Points along the outer rings (edges sampled), for envelopes in another CRS. */
function outlinePoints(polygons: PolygonRings[]): [number, number][] {
  const points: [number, number][] = [];
  for (const polygon of polygons) {
    const outer = polygon[0] ?? [];
    for (let i = 0; i < outer.length; i++) {
      const [ax, ay] = outer[i]!;
      const [bx, by] = outer[(i + 1) % outer.length]!;
      for (let k = 0; k < EDGE_SAMPLES; k++) points.push([ax + ((bx - ax) * k) / EDGE_SAMPLES, ay + ((by - ay) * k) / EDGE_SAMPLES]);
    }
  }
  return points;
}

/** A converter between EPSG codes, failing with an openEO error for CRSs proj4 is not given. */
export function converter(process: string, from: number, to: number): ((p: [number, number]) => [number, number]) | null {
  if (from === to) return null;
  try {
    const convert = transformer(from, to);
    return (p) => convert.forward(p) as [number, number];
  } catch (error) {
    if (error instanceof UnsupportedCrsError) throw new OpenEOError('FeatureUnsupported', `${process}: ${error.message}`);
    throw error;
  }
}

/** Envelope [minX, minY, maxX, maxY] of polygons in another CRS; null when there are none. */
export function envelopeOf(process: string, polygons: PolygonRings[], from: number, to: number): [number, number, number, number] | null {
  const convert = converter(process, from, to);
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const point of outlinePoints(polygons)) {
    const [x, y] = convert ? convert(point) : point;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  return minX <= maxX ? [minX, minY, maxX, maxY] : null;
}

/** A bounding box as a polygon (for envelopes in another CRS). */
export function boxPolygon(west: number, south: number, east: number, north: number): PolygonRings {
  return [[[west, south], [east, south], [east, north], [west, north], [west, south]]];
}

/** Positions along an axis whose pixel centres lie in [min, max]: [start, end), clipped to [0, size). */
function centresWithin(min: number, max: number, origin: number, step: number, size: number): PixelRange {
  const a = (min - origin) / step - 0.5;
  const b = (max - origin) / step - 0.5;
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  const start = Math.max(0, Math.ceil(lo - CENTRE_TOLERANCE_PX));
  const end = Math.min(size, Math.floor(hi + CENTRE_TOLERANCE_PX) + 1);
  return end > start ? { start, end } : { start, end: start };
}

/** The pixels of a grid whose centres lie in an envelope (in the grid's CRS). */
export function pixelWindow(grid: SpatialGrid, envelope: [number, number, number, number] | null): { cols: PixelRange; rows: PixelRange } {
  if (!envelope) return { cols: { start: 0, end: 0 }, rows: { start: 0, end: 0 } };
  const [x0, dx, , y0, , dy] = grid.transform;
  const cols = centresWithin(envelope[0], envelope[2], x0, dx, grid.width);
  const rows = centresWithin(envelope[1], envelope[3], y0, dy, grid.height);
  if (cols.end === cols.start || rows.end === rows.start) return { cols: { start: 0, end: 0 }, rows: { start: 0, end: 0 } };
  return { cols, rows };
}

/** Whether an envelope in the grid's CRS touches a tile at (col, row) of the given size, with a pixel to spare. */
export function envelopeTouches(grid: SpatialGrid, envelope: [number, number, number, number], cols: PixelRange, rows: PixelRange): boolean {
  const [x0, dx, , y0, , dy] = grid.transform;
  const xa = x0 + (cols.start - 1) * dx;
  const xb = x0 + (cols.end + 1) * dx;
  const ya = y0 + (rows.start - 1) * dy;
  const yb = y0 + (rows.end + 1) * dy;
  return envelope[2] >= Math.min(xa, xb) && envelope[0] <= Math.max(xa, xb) && envelope[3] >= Math.min(ya, yb) && envelope[1] <= Math.max(ya, yb);
}
