import { transformer } from '../../common/crs.js';
import type { PolygonRings, Reducer } from '../../common/ir.js';
import type { GeoTransform } from '../../common/raster.js';
import { DimensionError, type NDArray, sizeOf } from './nd-array.js';
import { partial } from './reduce.js';

/**
 * Pixel-centre tests against polygons (openEO's rule for masks, spatial filters and zonal
 * statistics): a pixel belongs to a polygon when the point at its centre intersects it, the
 * boundary included. Centres are transformed into the polygons' CRS, where GeoJSON edges are
 * straight lines.
 */

/**
 * How close to an edge a centre counts as on it, relative to the size of the coordinates:
 * absorbs the rounding of reprojection, so a centre placed exactly on an edge stays on it.
 */
const BOUNDARY_TOLERANCE = 1e-12;

interface PreparedPolygon {
  rings: [number, number][][];
  envelope: [number, number, number, number];
  tolerance: number;
}

function prepare(polygon: PolygonRings): PreparedPolygon {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const [x, y] of polygon[0] ?? []) {
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  const scale = Math.max(Math.abs(minX), Math.abs(maxX), Math.abs(minY), Math.abs(maxY), maxX - minX, maxY - minY, 1);
  return { rings: polygon, envelope: [minX, minY, maxX, maxY], tolerance: scale * BOUNDARY_TOLERANCE };
}

function onSegment(px: number, py: number, ax: number, ay: number, bx: number, by: number, tolerance: number): boolean {
  const dx = bx - ax;
  const dy = by - ay;
  const length2 = dx * dx + dy * dy;
  const t = length2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / length2));
  const ex = ax + t * dx - px;
  const ey = ay + t * dy - py;
  return ex * ex + ey * ey <= tolerance * tolerance;
}

/** Even-odd rule over all rings (holes flip the answer back), boundary included. */
function contains(polygon: PreparedPolygon, px: number, py: number): boolean {
  const [minX, minY, maxX, maxY] = polygon.envelope;
  const tol = polygon.tolerance;
  if (px < minX - tol || px > maxX + tol || py < minY - tol || py > maxY + tol) return false;
  let inside = false;
  for (const ring of polygon.rings) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [ax, ay] = ring[i]!;
      const [bx, by] = ring[j]!;
      if (onSegment(px, py, ax, ay, bx, by, tol)) return true;
      if (ay > py !== by > py && px < ((bx - ax) * (py - ay)) / (by - ay) + ax) inside = !inside;
    }
  }
  return inside;
}

/** Centres of the pixels of a height × width grid, in the polygons' CRS: [x0, y0, x1, y1, …]. */
function pixelCentres(polygonEpsg: number, epsg: number, transform: GeoTransform, height: number, width: number): Float64Array {
  const convert = epsg === polygonEpsg ? null : transformer(epsg, polygonEpsg);
  const [x0, dx, rx, y0, ry, dy] = transform;
  const centres = new Float64Array(2 * height * width);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const gx = x0 + (c + 0.5) * dx + (r + 0.5) * rx;
      const gy = y0 + (c + 0.5) * ry + (r + 0.5) * dy;
      const [px, py] = convert ? (convert.forward([gx, gy]) as [number, number]) : [gx, gy];
      const i = 2 * (r * width + c);
      centres[i] = px;
      centres[i + 1] = py;
    }
  }
  return centres;
}

/** 1 where a centre lies in any of the polygons. */
function insideAny(polygons: PolygonRings[], centres: Float64Array): Uint8Array {
  const prepared = polygons.map(prepare);
  const inside = new Uint8Array(centres.length / 2);
  for (let i = 0; i < inside.length; i++) {
    const px = centres[2 * i]!;
    const py = centres[2 * i + 1]!;
    if (prepared.some((polygon) => contains(polygon, px, py))) inside[i] = 1;
  }
  return inside;
}

function planeSize(x: NDArray): { planes: number; height: number; width: number } {
  const rank = x.shape.length;
  if (rank < 2) throw new DimensionError('a polygon test needs an array with y and x dimensions');
  const height = x.shape[rank - 2]!;
  const width = x.shape[rank - 1]!;
  return { planes: sizeOf(x.shape.slice(0, rank - 2)), height, width };
}

/** Replaces pixels outside all polygons (or inside any when `inside`); no data is left as it is. */
export function maskPolygons(x: NDArray, polygons: PolygonRings[], polygonEpsg: number, epsg: number, transform: GeoTransform, inside: boolean, replacement: number): NDArray {
  const { planes, height, width } = planeSize(x);
  const contained = insideAny(polygons, pixelCentres(polygonEpsg, epsg, transform, height, width));
  const plane = height * width;
  const replace = new Uint8Array(plane);
  let any = false;
  for (let i = 0; i < plane; i++) {
    replace[i] = (contained[i] === 1) === inside ? 1 : 0;
    if (replace[i]) any = true;
  }
  if (!any) return x;
  const out = x.data instanceof Float64Array ? new Float64Array(x.data) : new Float32Array(x.data);
  for (let p = 0; p < planes; p++) {
    for (let i = 0; i < plane; i++) {
      const k = p * plane + i;
      if (replace[i] && !Number.isNaN(out[k]!)) out[k] = replacement;
    }
  }
  return { dims: x.dims, shape: x.shape, data: out };
}

/**
 * Partial states of `reducer` per geometry over the pixels whose centres it contains: dims
 * [stat, geometry, …the non-spatial dims of x]. Overlapping geometries each count the pixels
 * they share.
 */
export function zonalPartial(x: NDArray, geometries: PolygonRings[][], polygonEpsg: number, epsg: number, transform: GeoTransform, reducer: Reducer, ignoreNodata: boolean): NDArray {
  const { planes, height, width } = planeSize(x);
  const plane = height * width;
  const planeDims = x.dims.slice(0, -2);
  const planeShape = x.shape.slice(0, -2);
  const centres = pixelCentres(polygonEpsg, epsg, transform, height, width);
  const states: NDArray[] = geometries.map((polygons) => {
    const contained = insideAny(polygons, centres);
    const pixels: number[] = [];
    for (let i = 0; i < plane; i++) if (contained[i] === 1) pixels.push(i);
    // The pixels of this geometry, one row per pixel, as a series along a `pixel` dimension.
    const values = new Float64Array(pixels.length * planes);
    pixels.forEach((pixel, k) => {
      for (let p = 0; p < planes; p++) values[k * planes + p] = x.data[p * plane + pixel]!;
    });
    return partial({ dims: ['pixel', ...planeDims], shape: [pixels.length, ...planeShape], data: values }, 'pixel', reducer, ignoreNodata);
  });
  const stateSize = states[0]?.shape[0] ?? partial({ dims: ['pixel'], shape: [0], data: new Float64Array(0) }, 'pixel', reducer, ignoreNodata).shape[0]!;
  const out = new Float64Array(stateSize * geometries.length * planes);
  states.forEach((state, g) => {
    for (let s = 0; s < stateSize; s++) out.set(state.data.subarray(s * planes, (s + 1) * planes), (s * geometries.length + g) * planes);
  });
  return { dims: ['stat', 'geometry', ...planeDims], shape: [stateSize, geometries.length, ...planeShape], data: out };
}
