import { OpenEOError } from '../../common/errors.js';
import type { IRNode } from '../../common/ir.js';
import type { GeoTransform } from '../../common/raster.js';
import type { CubeDimension, LazyCube } from './cube.js';

/**
 * A small data cube given inline, in the openEO test-suite form: `order` of dimension names,
 * `dimensions` with types and values (labels, or pixel-centre coordinates for x and y), nested
 * `data` (or null when the values do not matter) and `nodata` values. One chunk holds it all.
 */
export interface LiteralDatacube {
  order: string[];
  dimensions: Record<string, { type: string; axis?: string; values?: (string | number)[]; reference_system?: string | number }>;
  data: unknown;
  nodata?: number | null | (number | null)[];
}

function epsgOf(reference: string | number | undefined): number {
  if (reference === undefined) return 4326;
  if (typeof reference === 'number') return reference;
  const match = /(\d+)$/.exec(reference);
  return match ? Number(match[1]) : 4326;
}

/** Numbers as they are, booleans as 1 and 0 (as the IR computes them), anything else as no data. */
function flatten(data: unknown, into: number[]): void {
  if (Array.isArray(data)) for (const item of data) flatten(item, into);
  else into.push(typeof data === 'number' ? data : typeof data === 'boolean' ? (data ? 1 : 0) : NaN);
}

/** Step of a coordinate axis from its centres (1 when there is a single value). */
function stepOf(values: number[], fallback: number): number {
  return values.length >= 2 ? values[1]! - values[0]! : fallback;
}

/**
 * How an inline cube is cut into chunks. By default it is one chunk; smaller tiles and time
 * blocks make the same data exercise the paths of large cubes (halos, crops, tree reductions).
 */
export interface LiteralChunking {
  tileWidth: number;
  tileHeight: number;
  timeBlock: number;
}

export function literalCube(spec: LiteralDatacube, chunking: LiteralChunking | null = null): LazyCube {
  const names = spec.order;
  const x = names.find((n) => spec.dimensions[n]?.type === 'spatial' && (spec.dimensions[n]?.axis === 'x' || n === 'x'));
  const y = names.find((n) => spec.dimensions[n]?.type === 'spatial' && (spec.dimensions[n]?.axis === 'y' || n === 'y'));
  if (!x || !y) throw new OpenEOError('ProcessParameterInvalid', 'a data cube needs spatial x and y dimensions');
  const xs = (spec.dimensions[x]!.values ?? []) as number[];
  const ys = (spec.dimensions[y]!.values ?? []) as number[];
  const dx = stepOf(xs, 1);
  const dy = stepOf(ys, -dx);
  const transform: GeoTransform = [(xs[0] ?? 0) - dx / 2, dx, 0, (ys[0] ?? 0) - dy / 2, 0, dy];
  const others = names.filter((n) => n !== x && n !== y);
  const dims: CubeDimension[] = others.map((name) => {
    const d = spec.dimensions[name]!;
    const labels = (d.values ?? []) as (string | number)[];
    if (d.type === 'temporal') return { name, type: 'temporal', labels: labels.map(String) };
    if (d.type === 'bands') return { name, type: 'bands', labels: labels.map(String) };
    return { name, type: 'other', labels };
  });
  dims.push({ name: 'y', type: 'spatial', axis: 'y' }, { name: 'x', type: 'spatial', axis: 'x' });
  // Values in the given order, then transposed to ours: non-spatial dimensions first, then y, x.
  const sizes = names.map((n) => (spec.dimensions[n]!.values ?? []).length);
  const raw: number[] = [];
  if (spec.data !== null && spec.data !== undefined) flatten(spec.data, raw);
  const total = sizes.reduce((a, b) => a * b, 1);
  const nodata = (Array.isArray(spec.nodata) ? spec.nodata : [spec.nodata]).filter((v): v is number => typeof v === 'number' && !Number.isNaN(v));
  const given = raw.length === total ? raw.map((v) => (nodata.includes(v) ? NaN : v)) : new Array<number>(total).fill(NaN);
  const ourOrder = [...others, y, x];
  const ourSizes = ourOrder.map((n) => sizes[names.indexOf(n)]!);
  const strides = names.map((_, i) => sizes.slice(i + 1).reduce((a, b) => a * b, 1));
  const values = new Array<number>(total);
  const counter = new Array<number>(ourOrder.length).fill(0);
  for (let o = 0; o < total; o++) {
    let source = 0;
    for (let d = 0; d < ourOrder.length; d++) source += counter[d]! * strides[names.indexOf(ourOrder[d]!)]!;
    values[o] = given[source]!;
    for (let d = ourOrder.length - 1; d >= 0; d--) {
      if (++counter[d]! < ourSizes[d]!) break;
      counter[d] = 0;
    }
  }
  const chunkDimNames = [...others, 'y', 'x'];
  const width = xs.length;
  const height = ys.length;
  const firstTemporal = dims.find((d) => d.type === 'temporal');
  const timeCount = firstTemporal && firstTemporal.type === 'temporal' ? firstTemporal.labels.length : 1;
  const layout = {
    tileWidth: Math.max(1, chunking?.tileWidth ?? width),
    tileHeight: Math.max(1, chunking?.tileHeight ?? height),
    offsetX: 0,
    offsetY: 0,
    timeBlock: Math.max(1, chunking?.timeBlock ?? timeCount),
    timeOffset: 0,
  };
  const whole: IRNode = { op: 'literal', dims: chunkDimNames, shape: ourSizes, values };
  const timeAxis = firstTemporal ? others.indexOf(firstTemporal.name) : -1;
  return {
    dims,
    grid: { epsg: epsgOf(spec.dimensions[x]!.reference_system), transform, width, height },
    layout,
    description: `inline data cube (${names.join(', ')})`,
    chunk({ tx, ty, tb }) {
      if (!chunking) return { node: whole, inputs: [] };
      // The values of one tile and time block, copied out at compile time.
      const starts = ourSizes.map(() => 0);
      const sizes = ourSizes.slice();
      const axisY = ourSizes.length - 2;
      const axisX = ourSizes.length - 1;
      starts[axisY] = ty * layout.tileHeight;
      sizes[axisY] = Math.max(0, Math.min(height, (ty + 1) * layout.tileHeight) - starts[axisY]!);
      starts[axisX] = tx * layout.tileWidth;
      sizes[axisX] = Math.max(0, Math.min(width, (tx + 1) * layout.tileWidth) - starts[axisX]!);
      if (timeAxis >= 0) {
        starts[timeAxis] = tb * layout.timeBlock;
        sizes[timeAxis] = Math.max(0, Math.min(timeCount, (tb + 1) * layout.timeBlock) - starts[timeAxis]!);
      }
      const total = sizes.reduce((a, b) => a * b, 1);
      const strides = ourSizes.map((_, i) => ourSizes.slice(i + 1).reduce((a, b) => a * b, 1));
      const part = new Array<number>(total);
      const at = sizes.map(() => 0);
      for (let o = 0; o < total; o++) {
        let source = 0;
        for (let d = 0; d < sizes.length; d++) source += (at[d]! + starts[d]!) * strides[d]!;
        part[o] = values[source]!;
        for (let d = sizes.length - 1; d >= 0; d--) {
          if (++at[d]! < sizes[d]!) break;
          at[d] = 0;
        }
      }
      return { node: { op: 'literal', dims: chunkDimNames, shape: sizes, values: part }, inputs: [] };
    },
  };
}
