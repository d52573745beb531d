import { transformer } from '../../common/crs.js';
import type { WarpMethod } from '../../common/ir.js';
import type { GeoTransform } from '../../common/raster.js';
import { DimensionError, floatLike, type NDArray, sizeOf } from './nd-array.js';

/**
 * Resampling of the trailing (y, x) plane onto another grid, as gdalwarp does it: `near` and
 * `bilinear` look at the source around each target pixel centre; the other methods combine the
 * valid source pixels whose centres fall in the target pixel's footprint (near when none does).
 * No data never enters a result: bilinear weights are spread over the valid neighbours.
 */

/** Source pixel coordinates (column, row; pixel i spans [i, i + 1)) of target points. */
function sourcePositions(
  points: { cols: number; rows: number; at: (i: number, j: number) => [number, number] },
  source: { epsg: number; transform: GeoTransform },
  targetEpsg: number,
): Float64Array {
  const convert = source.epsg === targetEpsg ? null : transformer(targetEpsg, source.epsg);
  const [x0, dx, , y0, , dy] = source.transform;
  const out = new Float64Array(2 * points.cols * points.rows);
  for (let i = 0; i < points.rows; i++) {
    for (let j = 0; j < points.cols; j++) {
      const [tx, ty] = points.at(i, j);
      const [sx, sy] = convert ? (convert.forward([tx, ty]) as [number, number]) : [tx, ty];
      const k = 2 * (i * points.cols + j);
      out[k] = (sx - x0) / dx;
      out[k + 1] = (sy - y0) / dy;
    }
  }
  return out;
}

function combine(values: number[], method: WarpMethod): number {
  if (values.length === 0) return NaN;
  switch (method) {
    case 'sum':
      return values.reduce((a, b) => a + b, 0);
    case 'average':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'min':
      return Math.min(...values);
    case 'max':
      return Math.max(...values);
    case 'med': {
      const sorted = values.slice().sort((a, b) => a - b);
      const mid = sorted.length >> 1;
      return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    }
    case 'mode': {
      const counts = new Map<number, number>();
      let best = values[0]!;
      let bestCount = 0;
      for (const v of values) {
        const n = (counts.get(v) ?? 0) + 1;
        counts.set(v, n);
        // Ties go to the smallest value, so the result does not depend on the scan order.
        if (n > bestCount || (n === bestCount && v < best)) {
          best = v;
          bestCount = n;
        }
      }
      return best;
    }
    default:
      throw new DimensionError(`${method} is not a footprint method`);
  }
}

export function warp(x: NDArray, source: { epsg: number; transform: GeoTransform }, target: { epsg: number; transform: GeoTransform; width: number; height: number }, method: WarpMethod): NDArray {
  const rank = x.shape.length;
  if (rank < 2) throw new DimensionError('resampling needs an array with y and x dimensions');
  const srcH = x.shape[rank - 2]!;
  const srcW = x.shape[rank - 1]!;
  const planes = sizeOf(x.shape.slice(0, rank - 2));
  const { width, height } = target;
  const [tx0, tdx, trx, ty0, try_, tdy] = target.transform;
  const out = floatLike(x.data, null, planes * width * height);
  const srcPlane = srcH * srcW;
  const outPlane = width * height;
  const valueAt = (p: number, row: number, col: number): number => (row >= 0 && row < srcH && col >= 0 && col < srcW ? x.data[p * srcPlane + row * srcW + col]! : NaN);

  if (method === 'near' || method === 'bilinear') {
    const centres = sourcePositions({ cols: width, rows: height, at: (i, j) => [tx0 + (j + 0.5) * tdx + (i + 0.5) * trx, ty0 + (j + 0.5) * try_ + (i + 0.5) * tdy] }, source, target.epsg);
    for (let k = 0; k < outPlane; k++) {
      const u = centres[2 * k]!;
      const v = centres[2 * k + 1]!;
      if (method === 'near') {
        const col = Math.floor(u);
        const row = Math.floor(v);
        for (let p = 0; p < planes; p++) out[p * outPlane + k] = valueAt(p, row, col);
        continue;
      }
      const uc = u - 0.5;
      const vc = v - 0.5;
      const c0 = Math.floor(uc);
      const r0 = Math.floor(vc);
      const fu = uc - c0;
      const fv = vc - r0;
      const taps: [number, number, number][] = [
        [r0, c0, (1 - fu) * (1 - fv)],
        [r0, c0 + 1, fu * (1 - fv)],
        [r0 + 1, c0, (1 - fu) * fv],
        [r0 + 1, c0 + 1, fu * fv],
      ];
      for (let p = 0; p < planes; p++) {
        let sum = 0;
        let weight = 0;
        for (const [row, col, w] of taps) {
          if (w === 0) continue;
          const value = valueAt(p, row, col);
          if (Number.isNaN(value)) continue;
          sum += w * value;
          weight += w;
        }
        out[p * outPlane + k] = weight > 0 ? sum / weight : NaN;
      }
    }
    return { dims: x.dims, shape: [...x.shape.slice(0, rank - 2), height, width], data: out };
  }

  // Footprints: the target pixel's corners in source pixel coordinates, as a box.
  const corners = sourcePositions({ cols: width + 1, rows: height + 1, at: (i, j) => [tx0 + j * tdx + i * trx, ty0 + j * try_ + i * tdy] }, source, target.epsg);
  const corner = (i: number, j: number): [number, number] => [corners[2 * (i * (width + 1) + j)]!, corners[2 * (i * (width + 1) + j) + 1]!];
  const values: number[] = [];
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const box = [corner(r, c), corner(r, c + 1), corner(r + 1, c), corner(r + 1, c + 1)];
      const uMin = Math.min(...box.map((b) => b[0]));
      const uMax = Math.max(...box.map((b) => b[0]));
      const vMin = Math.min(...box.map((b) => b[1]));
      const vMax = Math.max(...box.map((b) => b[1]));
      // Source pixels whose centres (j + 0.5, i + 0.5) lie in [min, max).
      const j0 = Math.max(0, Math.ceil(uMin - 0.5));
      const j1 = Math.min(srcW, Math.ceil(uMax - 0.5));
      const i0 = Math.max(0, Math.ceil(vMin - 0.5));
      const i1 = Math.min(srcH, Math.ceil(vMax - 0.5));
      const k = r * width + c;
      for (let p = 0; p < planes; p++) {
        values.length = 0;
        if (j1 > j0 && i1 > i0) {
          for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++) {
            const value = x.data[p * srcPlane + i * srcW + j]!;
            if (!Number.isNaN(value)) values.push(value);
          }
          out[p * outPlane + k] = combine(values, method);
        } else {
          out[p * outPlane + k] = valueAt(p, Math.floor((vMin + vMax) / 2), Math.floor((uMin + uMax) / 2));
        }
      }
    }
  }
  return { dims: x.dims, shape: [...x.shape.slice(0, rank - 2), height, width], data: out };
}
