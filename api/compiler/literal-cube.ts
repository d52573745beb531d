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

function flatten(data: unknown, into: number[]): void {
  if (Array.isArray(data)) for (const item of data) flatten(item, into);
  else into.push(typeof data === 'number' ? data : NaN);
}

/** Step of a coordinate axis from its centres (1 when there is a single value). */
function stepOf(values: number[], fallback: number): number {
  return values.length >= 2 ? values[1]! - values[0]! : fallback;
}

export function literalCube(spec: LiteralDatacube): LazyCube {
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
  const node: IRNode = { op: 'literal', dims: [...others, 'y', 'x'], shape: ourSizes, values };
  const width = xs.length;
  const height = ys.length;
  const firstTemporal = dims.find((d) => d.type === 'temporal');
  return {
    dims,
    grid: { epsg: epsgOf(spec.dimensions[x]!.reference_system), transform, width, height },
    layout: { tileWidth: Math.max(1, width), tileHeight: Math.max(1, height), offsetX: 0, offsetY: 0, timeBlock: Math.max(1, firstTemporal && firstTemporal.type === 'temporal' ? firstTemporal.labels.length : 1), timeOffset: 0 },
    description: `inline data cube (${names.join(', ')})`,
    chunk: () => ({ node, inputs: [] }),
  };
}
