import { transformer, WGS84 } from '../../common/crs.js';
import type { GeoTransform } from '../../common/raster.js';
import type { NDArray } from './nd-array.js';

/**
 * openEO's pixel-centre rule for a bbox given in EPSG:4326 over a projected grid: a pixel is
 * kept when its centre, transformed to lon/lat, lies inside the bbox. Blocks whose whole border
 * is inside skip the per-pixel test (the bbox's preimage is convex enough at tile scale).
 */
export function maskBbox(x: NDArray, bbox: [number, number, number, number], epsg: number, transform: GeoTransform): NDArray {
  const rank = x.shape.length;
  const height = x.shape[rank - 2]!;
  const width = x.shape[rank - 1]!;
  const [west, south, east, north] = bbox;
  const toLonLat = epsg === WGS84 ? null : transformer(epsg, WGS84);
  const [x0, dx, , y0, , dy] = transform;
  const inside = (col: number, row: number): boolean => {
    const px = x0 + (col + 0.5) * dx;
    const py = y0 + (row + 0.5) * dy;
    const [lon, lat] = toLonLat ? (toLonLat.forward([px, py]) as [number, number]) : [px, py];
    return lon >= west && lon <= east && lat >= south && lat <= north;
  };
  let borderInside = true;
  for (let c = 0; c < width && borderInside; c++) borderInside = inside(c, 0) && inside(c, height - 1);
  for (let r = 0; r < height && borderInside; r++) borderInside = inside(0, r) && inside(width - 1, r);
  if (borderInside) return x;
  const keep = new Uint8Array(height * width);
  for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) keep[r * width + c] = inside(c, r) ? 1 : 0;
  const out = x.data instanceof Float64Array ? new Float64Array(x.data) : new Float32Array(x.data);
  const plane = height * width;
  for (let i = 0; i < out.length; i++) if (keep[i % plane] === 0) out[i] = NaN;
  return { dims: x.dims, shape: x.shape, data: out };
}
