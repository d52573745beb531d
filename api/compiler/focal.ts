import { type LazyCube, tileRange } from './cube.js';
import { materialize } from './cube-ops.js';
import type { DagBuilder } from './dag-builder.js';
import { axisSegments, segmentsProgram, tileCounts } from './window.js';

/**
 * Focal operations (a kernel over each pixel's neighbourhood) on a chunked cube. Each output
 * tile reads its own tile and the strips of the neighbouring tiles its halo reaches (the
 * source is materialized, so every neighbour is computed once and read as an input), extends
 * the halo past the cube's edge by the border rule, and runs the kernel; the result has the
 * source's tiles and time blocks and fuses with what follows.
 */

/** How pixels beyond the cube's edge are made up: a constant, or one of the edge rules. */
export type BorderRule = number | 'replicate' | 'reflect' | 'reflect_pixel' | 'wrap';

/** The source position standing in for position `p` of an axis of `size` pixels, or null for the constant. */
export function borderSource(p: number, size: number, border: BorderRule): number | null {
  if (p >= 0 && p < size) return p;
  if (typeof border === 'number') return null;
  switch (border) {
    case 'replicate':
      return Math.min(size - 1, Math.max(0, p));
    case 'wrap':
      return ((p % size) + size) % size;
    case 'reflect': {
      // fedcba|abcdefgh|hgfedc: mirrored about the edge, a period of 2 * size.
      const period = 2 * size;
      const q = ((p % period) + period) % period;
      return q < size ? q : period - 1 - q;
    }
    case 'reflect_pixel': {
      // gfedcb|abcdefgh|gfedcb: mirrored about the edge pixel's centre, a period of 2 * size - 2.
      if (size === 1) return 0;
      const period = 2 * size - 2;
      const q = ((p % period) + period) % period;
      return q < size ? q : period - q;
    }
  }
}

/**
 * `cube` with `kernel` applied to every pixel: the weighted sum of its neighbourhood times
 * `factor`, values that are not finite counting as `replaceInvalid`.
 */
export function applyKernel(cube: LazyCube, kernel: number[][], factor: number, border: BorderRule, replaceInvalid: number, builder: DagBuilder): LazyCube {
  const haloY = (kernel.length - 1) / 2;
  const haloX = ((kernel[0]?.length ?? 1) - 1) / 2;
  const { ntx, nty } = tileCounts(cube);
  // A cube of one tile holds every neighbourhood itself; otherwise tiles are read by their neighbours.
  const source = ntx * nty > 1 ? materialize(cube, builder) : cube;
  const { width, height } = cube.grid;
  return {
    dims: cube.dims,
    grid: cube.grid,
    layout: cube.layout,
    description: `${cube.description}, ${kernel.length}x${kernel[0]?.length ?? 0} kernel applied`,
    chunk(coord) {
      const cols = tileRange(coord.tx, width, cube.layout.tileWidth, cube.layout.offsetX);
      const rows = tileRange(coord.ty, height, cube.layout.tileHeight, cube.layout.offsetY);
      const along = (start: number, end: number, halo: number, size: number): (number | null)[] => Array.from({ length: end - start + 2 * halo }, (_, i) => borderSource(start - halo + i, size, border));
      const rowSegments = axisSegments(along(rows.start, rows.end, haloY, height));
      const colSegments = axisSegments(along(cols.start, cols.end, haloX, width));
      const extended = segmentsProgram(source, coord.tb, rowSegments, colSegments, typeof border === 'number' ? border : 0);
      return { node: { op: 'convolve', kernel, factor, replaceInvalid, x: extended.node }, inputs: extended.inputs };
    },
  };
}
