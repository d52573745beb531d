import { describe, expect, it } from 'vitest';
import { transformer } from '../../common/crs.js';
import type { IRNode, PolygonRings } from '../../common/ir.js';
import type { GeoTransform } from '../../common/raster.js';
import { evaluate } from '../../worker/ir/evaluate.js';
import type { NDArray } from '../../worker/ir/nd-array.js';

/**
 * Pixel-centre tests against polygons: masks (inside / outside, no data left alone, boundary
 * included, holes) and zonal partial states that combine across tiles.
 */

/** A 10 x 10 lon/lat grid of 1° pixels from (0, 10): pixel (r, c) has its centre at (c + 0.5, 9.5 - r). */
const GRID: GeoTransform = [0, 1, 0, 10, 0, -1];
const SIZE = 10;

function square(west: number, south: number, east: number, north: number): PolygonRings {
  return [[[west, south], [east, south], [east, north], [west, north], [west, south]]];
}

function planes(count: number, value: (t: number, r: number, c: number) => number): Float64Array {
  const out = new Float64Array(count * SIZE * SIZE);
  for (let t = 0; t < count; t++) for (let r = 0; r < SIZE; r++) for (let c = 0; c < SIZE; c++) out[(t * SIZE + r) * SIZE + c] = value(t, r, c);
  return out;
}

async function run(node: IRNode, data: Float64Array, dims = ['t', 'y', 'x'], shape = [2, SIZE, SIZE]): Promise<NDArray> {
  return evaluate(node, { inputs: [{ kind: 'array', dims, shape, data }], dataDir: '', signal: { aborted: false } });
}

const X: IRNode = { op: 'input', index: 0 };

function centreInside(polygon: (x: number, y: number) => boolean, r: number, c: number): boolean {
  return polygon(c + 0.5, 9.5 - r);
}

describe('mask_polygons', () => {
  const values = planes(2, (t, r, c) => (r === 3 && c === 3 ? NaN : t * 100 + r * 10 + c));

  it('replaces outside the polygons by default and inside with `inside`, keeping no data', async () => {
    const polygons = [square(2, 2, 5, 5)];
    const inBox = (x: number, y: number): boolean => x >= 2 && x <= 5 && y >= 2 && y <= 5;
    for (const inside of [false, true]) {
      const out = await run({ op: 'mask_polygons', polygons, polygonEpsg: 4326, epsg: 4326, transform: GRID, inside, replacement: -1, x: X }, values);
      for (let t = 0; t < 2; t++) {
        for (let r = 0; r < SIZE; r++) {
          for (let c = 0; c < SIZE; c++) {
            const k = (t * SIZE + r) * SIZE + c;
            const replaced = centreInside(inBox, r, c) === inside;
            if (Number.isNaN(values[k]!)) expect(out.data[k]).toBeNaN();
            else expect(out.data[k]).toBe(replaced ? -1 : values[k]);
          }
        }
      }
    }
  });

  it('counts centres on the boundary as inside and leaves holes out', async () => {
    // Edges through pixel centres (x = 2.5 and 6.5, y = 2.5 and 6.5), a hole around (4.5, 4.5).
    const polygon: PolygonRings = [square(2.5, 2.5, 6.5, 6.5)[0]!, square(4, 4, 5, 5)[0]!];
    const out = await run({ op: 'mask_polygons', polygons: [polygon], polygonEpsg: 4326, epsg: 4326, transform: GRID, inside: false, replacement: NaN, x: X }, planes(1, () => 1), ['y', 'x'], [SIZE, SIZE]);
    const kept: string[] = [];
    for (let r = 0; r < SIZE; r++) for (let c = 0; c < SIZE; c++) if (out.data[r * SIZE + c] === 1) kept.push(`${c + 0.5},${9.5 - r}`);
    expect(kept).toHaveLength(5 * 5 - 1);
    expect(kept).not.toContain('4.5,4.5');
    expect(kept).toContain('2.5,2.5');
    expect(kept).toContain('6.5,6.5');
  });

  it('tests projected pixel centres in the polygons\' CRS', async () => {
    const utm: GeoTransform = [500_000, 1000, 0, 5_300_000, 0, -1000];
    const toLonLat = transformer(32632, 4326);
    const polygon = square(9.01, 47.8, 9.05, 47.83);
    const out = await run({ op: 'mask_polygons', polygons: [polygon], polygonEpsg: 4326, epsg: 32632, transform: utm, inside: true, replacement: 0, x: X }, planes(1, () => 1), ['y', 'x'], [SIZE, SIZE]);
    let inside = 0;
    for (let r = 0; r < SIZE; r++) {
      for (let c = 0; c < SIZE; c++) {
        const [lon, lat] = toLonLat.forward([500_000 + (c + 0.5) * 1000, 5_300_000 - (r + 0.5) * 1000]) as [number, number];
        const expected = lon >= 9.01 && lon <= 9.05 && lat >= 47.8 && lat <= 47.83 ? 0 : 1;
        expect(out.data[r * SIZE + c]).toBe(expected);
        if (expected === 0) inside++;
      }
    }
    expect(inside).toBeGreaterThan(0);
  });
});

describe('zonal_partial', () => {
  const values = planes(2, (t, r, c) => (r === 4 && c === 4 ? NaN : (t + 1) * (r * SIZE + c)));
  const geometries: PolygonRings[][] = [[square(2, 2, 5, 5)], [square(0, 0, 1, 10), square(9, 9, 10, 10)], []];
  const members = [(x: number, y: number) => x >= 2 && x <= 5 && y >= 2 && y <= 5, (x: number, y: number) => (x <= 1 && y >= 0) || (x >= 9 && y >= 9), () => false];

  function expectedMeans(): number[] {
    const out: number[] = [];
    for (const inside of members) {
      for (let t = 0; t < 2; t++) {
        let sum = 0;
        let n = 0;
        for (let r = 0; r < SIZE; r++) for (let c = 0; c < SIZE; c++) {
          const v = values[(t * SIZE + r) * SIZE + c]!;
          if (centreInside(inside, r, c) && !Number.isNaN(v)) {
            sum += v;
            n++;
          }
        }
        out.push(n === 0 ? NaN : sum / n);
      }
    }
    return out;
  }

  it('gives per geometry the state of the pixels it contains; tiles combine into the whole', async () => {
    const partial = (transform: GeoTransform, rows: [number, number]): IRNode => ({
      op: 'zonal_partial',
      geometries,
      polygonEpsg: 4326,
      epsg: 4326,
      transform,
      reducer: 'mean',
      ignoreNodata: true,
      x: { op: 'slice', dim: 'y', start: rows[0], end: rows[1], x: X },
    });
    const whole = await run({ op: 'finalize', reducer: 'mean', x: partial(GRID, [0, SIZE]) }, values);
    expect(whole.dims).toEqual(['geometry', 't']);
    const expected = expectedMeans();
    Array.from(whole.data).forEach((v, i) => (Number.isNaN(expected[i]!) ? expect(v).toBeNaN() : expect(v).toBeCloseTo(expected[i]!, 4)));
    // The same from two tiles of rows 0–3 and 4–9, combined.
    const top = partial(GRID, [0, 4]);
    const bottom = partial([0, 1, 0, 6, 0, -1], [4, SIZE]);
    const combined = await run({ op: 'finalize', reducer: 'mean', x: { op: 'combine', reducer: 'mean', parts: [top, bottom] } }, values);
    Array.from(combined.data).forEach((v, i) => (Number.isNaN(expected[i]!) ? expect(v).toBeNaN() : expect(v).toBeCloseTo(expected[i]!, 4)));
  });

  it('counts nothing for a geometry without pixels', async () => {
    const out = await run({ op: 'finalize', reducer: 'count', x: { op: 'zonal_partial', geometries, polygonEpsg: 4326, epsg: 4326, transform: GRID, reducer: 'count', ignoreNodata: true, x: X } }, values);
    expect(Array.from(out.data)).toEqual([9, 9, 11, 11, 0, 0]);
  });
});
