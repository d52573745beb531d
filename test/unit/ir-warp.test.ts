import { describe, expect, it } from 'vitest';
import { transformer } from '../../common/crs.js';
import type { IRNode, WarpMethod } from '../../common/ir.js';
import type { GeoTransform } from '../../common/raster.js';
import { evaluate } from '../../worker/ir/evaluate.js';
import type { NDArray } from '../../worker/ir/nd-array.js';

/** Resampling onto another grid: nearest, bilinear and the footprint methods, in one CRS and across CRSs. */

const X: IRNode = { op: 'input', index: 0 };

async function warp(values: number[], shape: [number, number], source: { epsg: number; transform: GeoTransform }, target: { epsg: number; transform: GeoTransform; width: number; height: number }, method: WarpMethod): Promise<NDArray> {
  return evaluate({ op: 'warp', source, target, method, x: X }, { inputs: [{ kind: 'array', dims: ['y', 'x'], shape, data: Float64Array.from(values) }], dataDir: '', signal: { aborted: false } });
}

// A 4 x 4 source of 1-unit pixels from (0, 4); one pixel holds no data.
const SOURCE = { epsg: 32632, transform: [0, 1, 0, 4, 0, -1] as GeoTransform };
const VALUES = [1, 2, 3, 4, 5, NaN, 7, 8, 9, 10, 11, 12, 13, 14, 15, 15];
const HALF = { epsg: 32632, transform: [0, 2, 0, 4, 0, -2] as GeoTransform, width: 2, height: 2 };

describe('warp in one CRS', () => {
  it('near on the same grid changes nothing', async () => {
    const out = await warp(VALUES, [4, 4], SOURCE, { ...SOURCE, width: 4, height: 4 }, 'near');
    expect(Array.from(out.data)).toEqual(VALUES);
  });

  it.each([
    ['average', [(1 + 2 + 5) / 3, (3 + 4 + 7 + 8) / 4, (9 + 10 + 13 + 14) / 4, (11 + 12 + 15 + 15) / 4]],
    ['min', [1, 3, 9, 11]],
    ['max', [5, 8, 14, 15]],
    ['sum', [8, 22, 46, 53]],
    ['med', [2, 5.5, 11.5, 13.5]],
    ['mode', [1, 3, 9, 15]],
  ] as const)('%s combines the valid source pixels under each target pixel', async (method, expected) => {
    const out = await warp(VALUES, [4, 4], SOURCE, HALF, method);
    expect(out.shape).toEqual([2, 2]);
    Array.from(out.data).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 10));
  });

  it('bilinear reproduces a plane between pixel centres and spreads weights over valid neighbours', async () => {
    // f = 2x + 3y at the source pixel centres (x = c + 0.5, y = 3.5 - r).
    const plane = Array.from({ length: 16 }, (_, k) => 2 * ((k % 4) + 0.5) + 3 * (3.5 - Math.floor(k / 4)));
    const quarter = { epsg: 32632, transform: [1, 0.5, 0, 3, 0, -0.5] as GeoTransform, width: 4, height: 4 };
    const out = await warp(plane, [4, 4], SOURCE, quarter, 'bilinear');
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(out.data[r * 4 + c]).toBeCloseTo(2 * (1 + (c + 0.5) * 0.5) + 3 * (3 - (r + 0.5) * 0.5), 10);
    // The corner (2, 2) shared by source pixels 6, 7, 10 and 11, of which the first holds no data.
    const withGap = await warp(VALUES, [4, 4], SOURCE, { epsg: 32632, transform: [1.5, 1, 0, 2.5, 0, -1], width: 1, height: 1 }, 'bilinear');
    expect(withGap.data[0]).toBeCloseTo((7 + 10 + 11) / 3, 10);
  });

  it('gives no data where the source does not reach', async () => {
    const out = await warp(VALUES, [4, 4], SOURCE, { epsg: 32632, transform: [3, 1, 0, 4, 0, -1], width: 2, height: 1 }, 'near');
    expect(out.data[0]).toBe(4);
    expect(out.data[1]).toBeNaN();
  });
});

describe('warp across CRSs', () => {
  it('near takes the source pixel under each target centre', async () => {
    // A 0.5° lon/lat source over 8–12°E, 46–48°N, onto a Web Mercator target.
    const source = { epsg: 4326, transform: [8, 0.5, 0, 48, 0, -0.5] as GeoTransform };
    const values = Array.from({ length: 4 * 8 }, (_, k) => k);
    const target = { epsg: 3857, transform: [900_000, 20_000, 0, 6_100_000, 0, -20_000] as GeoTransform, width: 20, height: 10 };
    const out = await warp(values, [4, 8], source, target, 'near');
    const toLonLat = transformer(3857, 4326);
    let checked = 0;
    for (let r = 0; r < target.height; r++) {
      for (let c = 0; c < target.width; c++) {
        const [lon, lat] = toLonLat.forward([900_000 + (c + 0.5) * 20_000, 6_100_000 - (r + 0.5) * 20_000]) as [number, number];
        const col = Math.floor((lon - 8) / 0.5);
        const row = Math.floor((48 - lat) / 0.5);
        const expected = col >= 0 && col < 8 && row >= 0 && row < 4 ? values[row * 8 + col] : NaN;
        if (Number.isNaN(expected!)) expect(out.data[r * target.width + c]).toBeNaN();
        else {
          expect(out.data[r * target.width + c]).toBe(expected);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(50);
  });
});
