import type { IRNode, PolygonRings } from '../../common/ir.js';
import { type LazyCube, subTransform, tileRange } from './cube.js';
import { mapChunks } from './cube-ops.js';
import { envelopeOf, envelopeTouches, type GeometrySet } from './geometry.js';

/**
 * A polygon mask over a cube, chunk-local (fused): each tile tests its pixel centres against
 * the polygons that come near it only, so a tile far from every polygon costs nothing.
 */
export function maskByPolygons(process: string, cube: LazyCube, set: GeometrySet, inside: boolean, replacement: number, description: string): LazyCube {
  const polygons = set.geometries.flat();
  const envelopes = polygons.map((p) => envelopeOf(process, [p], set.epsg, cube.grid.epsg));
  return mapChunks(
    cube,
    cube.dims,
    (node, { tx, ty }): IRNode => {
      const cols = tileRange(tx, cube.grid.width, cube.layout.tileWidth, cube.layout.offsetX);
      const rows = tileRange(ty, cube.grid.height, cube.layout.tileHeight, cube.layout.offsetY);
      const near: PolygonRings[] = polygons.filter((_, i) => envelopes[i] !== null && envelopeTouches(cube.grid, envelopes[i]!, cols, rows));
      if (near.length === 0) {
        // Masking inside polygons that do not reach the tile changes nothing; outside, all of it
        // is masked (no data stays no data).
        if (inside) return node;
        return { op: 'where', cond: { op: 'unary', fn: 'is_nan', x: node }, then: node, else: { op: 'const', value: replacement } };
      }
      return { op: 'mask_polygons', polygons: near, polygonEpsg: set.epsg, epsg: cube.grid.epsg, transform: subTransform(cube.grid, cols.start, rows.start), inside, replacement, x: node };
    },
    description,
  );
}
