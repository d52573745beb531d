import type { IRNode } from '../../common/ir.js';
import { type ChunkLayout, type ChunkProgram, type LazyCube, type PixelRange, type SpatialGrid, subTransform, temporalDim, tileCount, tileRange, timeBlockRange } from './cube.js';
import { chunkDims, chunkShape, materialize, mergePrograms } from './cube-ops.js';
import type { DagBuilder } from './dag-builder.js';

/**
 * Windows of a cube in pixels and time steps: crops that keep the source's chunking (no task,
 * the crop fuses into the chunk programs) and arbitrary windows assembled from the tiles that
 * hold them (a tile with its halo, a tile of another layout).
 */

function mod(a: number, m: number): number {
  return ((a % m) + m) % m;
}

/**
 * `cube` limited to columns `cols`, rows `rows` and positions `times` of its blocked temporal
 * dimension (all contiguous). Tiles stay aligned with the source's, so each output chunk is a
 * slice of one source chunk and the crop costs no task.
 */
export function crop(cube: LazyCube, window: { cols?: PixelRange; rows?: PixelRange; times?: PixelRange }, description: string): LazyCube {
  const { grid, layout } = cube;
  const cols = window.cols ?? { start: 0, end: grid.width };
  const rows = window.rows ?? { start: 0, end: grid.height };
  const t = temporalDim(cube);
  const times = t ? (window.times ?? { start: 0, end: t.labels.length }) : { start: 0, end: 1 };
  const width = Math.max(0, cols.end - cols.start);
  const height = Math.max(0, rows.end - rows.start);
  const newGrid: SpatialGrid = { epsg: grid.epsg, transform: subTransform(grid, cols.start, rows.start), width, height };
  const newLayout: ChunkLayout = {
    ...layout,
    offsetX: mod(layout.offsetX + cols.start, layout.tileWidth),
    offsetY: mod(layout.offsetY + rows.start, layout.tileHeight),
    timeOffset: t ? mod(layout.timeOffset + times.start, layout.timeBlock) : layout.timeOffset,
  };
  const dims = t ? cube.dims.map((d) => (d === t ? { ...t, labels: t.labels.slice(times.start, times.end) } : d)) : cube.dims;
  const cropped: LazyCube = {
    dims,
    grid: newGrid,
    layout: newLayout,
    description,
    chunk(coord) {
      const outCols = tileRange(coord.tx, width, newLayout.tileWidth, newLayout.offsetX);
      const outRows = tileRange(coord.ty, height, newLayout.tileHeight, newLayout.offsetY);
      if (outCols.end <= outCols.start || outRows.end <= outRows.start || (t && times.end <= times.start)) {
        return { node: { op: 'full', value: NaN, dims: chunkDims(cropped), shape: chunkShape(cropped, coord) }, inputs: [] };
      }
      const srcCol = cols.start + outCols.start;
      const srcRow = rows.start + outRows.start;
      const tx = Math.floor((srcCol + layout.offsetX) / layout.tileWidth);
      const ty = Math.floor((srcRow + layout.offsetY) / layout.tileHeight);
      const tileCols = tileRange(tx, grid.width, layout.tileWidth, layout.offsetX);
      const tileRows = tileRange(ty, grid.height, layout.tileHeight, layout.offsetY);
      let tb = coord.tb;
      let timeSlice: PixelRange | null = null;
      if (t) {
        const outTimes = timeBlockRange(cropped, coord.tb);
        const srcTime = times.start + outTimes.start;
        tb = Math.floor((srcTime + layout.timeOffset) / layout.timeBlock);
        const block = timeBlockRange(cube, tb);
        timeSlice = { start: srcTime - block.start, end: srcTime - block.start + (outTimes.end - outTimes.start) };
        if (timeSlice.start === 0 && timeSlice.end === block.end - block.start) timeSlice = null;
      }
      const program = cube.chunk({ tx, ty, tb });
      let node = program.node;
      const c0 = srcCol - tileCols.start;
      const r0 = srcRow - tileRows.start;
      const w = outCols.end - outCols.start;
      const h = outRows.end - outRows.start;
      if (c0 !== 0 || w !== tileCols.end - tileCols.start) node = { op: 'slice', dim: 'x', start: c0, end: c0 + w, x: node };
      if (r0 !== 0 || h !== tileRows.end - tileRows.start) node = { op: 'slice', dim: 'y', start: r0, end: r0 + h, x: node };
      if (t && timeSlice) node = { op: 'slice', dim: t.name, start: timeSlice.start, end: timeSlice.end, x: node };
      return { node, inputs: program.inputs };
    },
  };
  return cropped;
}

/** Tiles of `cube` along one axis that a pixel range touches, with the part of each. */
function tilePieces(range: PixelRange, size: number, tile: number, offset: number): { index: number; start: number; end: number; local: number }[] {
  const pieces: { index: number; start: number; end: number; local: number }[] = [];
  let at = range.start;
  while (at < range.end) {
    const index = Math.floor((at + offset) / tile);
    const span = tileRange(index, size, tile, offset);
    const end = Math.min(range.end, span.end);
    pieces.push({ index, start: at, end, local: at - span.start });
    at = end;
  }
  return pieces;
}

/**
 * The program of an arbitrary pixel window (inside the grid) of time block `tb`, joined from the
 * tiles it touches. Reading from a materialized cube, each piece is a slice of an input chunk.
 */
export function windowProgram(cube: LazyCube, tb: number, rows: PixelRange, cols: PixelRange): ChunkProgram {
  const { grid, layout } = cube;
  const rowPieces = tilePieces(rows, grid.height, layout.tileHeight, layout.offsetY);
  const colPieces = tilePieces(cols, grid.width, layout.tileWidth, layout.offsetX);
  const bands = rowPieces.map((rp) => {
    const parts = colPieces.map((cp) => {
      const program = cube.chunk({ tx: cp.index, ty: rp.index, tb });
      const tileCols = tileRange(cp.index, grid.width, layout.tileWidth, layout.offsetX);
      const tileRows = tileRange(rp.index, grid.height, layout.tileHeight, layout.offsetY);
      let node = program.node;
      if (cp.local !== 0 || cp.end - cp.start !== tileCols.end - tileCols.start) node = { op: 'slice', dim: 'x', start: cp.local, end: cp.local + cp.end - cp.start, x: node };
      if (rp.local !== 0 || rp.end - rp.start !== tileRows.end - tileRows.start) node = { op: 'slice', dim: 'y', start: rp.local, end: rp.local + rp.end - rp.start, x: node };
      return { node, inputs: program.inputs };
    });
    return joinPrograms(parts, 'x');
  });
  return joinPrograms(bands, 'y');
}

/** Programs joined along a dimension (one program stays as it is). */
export function joinPrograms(parts: ChunkProgram[], dim: string): ChunkProgram {
  if (parts.length === 1) return parts[0]!;
  const merged = mergePrograms(parts);
  return { node: { op: 'concat', dim, parts: merged.nodes }, inputs: merged.inputs };
}

/**
 * Where the pixels of an extended axis come from: a run of source positions (ascending, or
 * descending for mirrored borders), or a constant fill beyond the cube's edge.
 */
export type AxisSegment = { kind: 'source'; start: number; end: number; reversed: boolean } | { kind: 'fill'; length: number };

/** Groups the source positions of an extended axis (null = fill) into segments. */
export function axisSegments(sources: (number | null)[]): AxisSegment[] {
  const segments: AxisSegment[] = [];
  for (const s of sources) {
    const last = segments[segments.length - 1];
    if (s === null) {
      if (last?.kind === 'fill') last.length++;
      else segments.push({ kind: 'fill', length: 1 });
      continue;
    }
    if (last?.kind === 'source') {
      const length = last.end - last.start;
      if (!last.reversed && s === last.end) {
        last.end++;
        continue;
      }
      // A run of one can turn into a descending run.
      if ((last.reversed || length === 1) && s === last.start - 1) {
        last.reversed = true;
        last.start--;
        continue;
      }
    }
    segments.push({ kind: 'source', start: s, end: s + 1, reversed: false });
  }
  return segments;
}

/**
 * A window assembled from segments of rows and columns (see axisSegments) for tile-independent
 * positions: used for halos, where beyond the cube's edge pixels repeat, mirror, wrap or fill.
 */
export function segmentsProgram(cube: LazyCube, tb: number, rowSegments: AxisSegment[], colSegments: AxisSegment[], fill: number): ChunkProgram {
  const lengthOf = (s: AxisSegment): number => (s.kind === 'fill' ? s.length : s.end - s.start);
  const plane = chunkShape(cube, { tx: 0, ty: 0, tb }).slice(0, -2);
  const bands = rowSegments.map((rs) => {
    const parts = colSegments.map((cs): ChunkProgram => {
      if (rs.kind === 'fill' || cs.kind === 'fill') {
        return { node: { op: 'full', value: fill, dims: chunkDims(cube), shape: [...plane, lengthOf(rs), lengthOf(cs)] }, inputs: [] };
      }
      const program = windowProgram(cube, tb, { start: rs.start, end: rs.end }, { start: cs.start, end: cs.end });
      let node: IRNode = program.node;
      if (cs.reversed) node = { op: 'take', dim: 'x', indices: reversedIndices(cs.end - cs.start), x: node };
      if (rs.reversed) node = { op: 'take', dim: 'y', indices: reversedIndices(rs.end - rs.start), x: node };
      return { node, inputs: program.inputs };
    });
    return joinPrograms(parts, 'x');
  });
  return joinPrograms(bands, 'y');
}

function reversedIndices(length: number): number[] {
  return Array.from({ length }, (_, i) => length - 1 - i);
}

export function sameLayout(a: ChunkLayout, b: ChunkLayout): boolean {
  return a.tileWidth === b.tileWidth && a.tileHeight === b.tileHeight && a.offsetX === b.offsetX && a.offsetY === b.offsetY;
}

/**
 * `cube` cut into the tiles of `layout` (same grid; time blocks unchanged). Source chunks are
 * materialized once and every new tile is assembled from slices of the ones it overlaps.
 */
export function retile(cube: LazyCube, layout: Pick<ChunkLayout, 'tileWidth' | 'tileHeight' | 'offsetX' | 'offsetY'>, builder: DagBuilder): LazyCube {
  if (sameLayout(cube.layout, { ...cube.layout, ...layout })) return cube;
  const source = materialize(cube, builder);
  const newLayout: ChunkLayout = { ...cube.layout, ...layout };
  return {
    dims: cube.dims,
    grid: cube.grid,
    layout: newLayout,
    description: cube.description,
    chunk(coord) {
      const rows = tileRange(coord.ty, cube.grid.height, newLayout.tileHeight, newLayout.offsetY);
      const cols = tileRange(coord.tx, cube.grid.width, newLayout.tileWidth, newLayout.offsetX);
      return windowProgram(source, coord.tb, rows, cols);
    },
  };
}

/** Number of tiles of a grid in a layout. */
export function tileCounts(cube: Pick<LazyCube, 'grid' | 'layout'>): { ntx: number; nty: number } {
  return { ntx: tileCount(cube.grid.width, cube.layout.tileWidth, cube.layout.offsetX), nty: tileCount(cube.grid.height, cube.layout.tileHeight, cube.layout.offsetY) };
}
