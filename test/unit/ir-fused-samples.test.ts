import { describe, expect, it } from 'vitest';
import type { IRNode } from '../../common/ir.js';
import { binary, unary } from '../../worker/ir/elementwise.js';
import { planFused } from '../../worker/ir/fused-elementwise.js';
import type { NDArray, RawSamples } from '../../worker/ir/nd-array.js';
import { upsample } from '../../worker/ir/structure.js';

/**
 * Compiled loops read unsigned samples as stored and scale them in the loop: the values must be
 * those of converting first (float32, NaN for no data), whatever mix of leaf types a chunk has.
 */

const read = (href: string): IRNode => ({ op: 'read_cog', href, level: 0, window: { x: 0, y: 0, width: 3, height: 2 }, band: 1, scale: 0.0001, offset: -0.1, nodata: 0 });

function unconverted(samples: Uint16Array | Uint8Array, raw: Omit<RawSamples, 'samples'>): NDArray {
  const data = Float32Array.from(samples, (v) => (v === raw.nodata ? NaN : v * raw.scale + raw.offset));
  const array = { dims: ['y', 'x'], shape: [2, 3], data };
  Object.defineProperty(array, 'raw', { value: { samples, ...raw }, enumerable: false });
  return array;
}

const plain = (x: NDArray): NDArray => ({ dims: x.dims, shape: x.shape, data: x.data });

// (a - b) / (a + b), then abs: two operations, so it compiles.
const NDVI: IRNode = { op: 'unary', fn: 'abs', x: { op: 'binary', fn: 'normdiff', a: read('nir.tif'), b: read('red.tif') } };

describe('fused loops over unconverted samples', () => {
  const nir = unconverted(Uint16Array.of(0, 3000, 4000, 5000, 65535, 1200), { scale: 0.0001, offset: -0.1, nodata: 0 });
  const red = unconverted(Uint16Array.of(500, 0, 1000, 1500, 2000, 1200), { scale: 0.0001, offset: -0.1, nodata: 0 });
  const expected = Array.from(unary('abs', binary('normdiff', plain(nir), plain(red))).data);

  it('give the values of converting first', () => {
    const plan = planFused(NDVI)!;
    expect(plan.leaves).toHaveLength(2);
    const out = plan.run([nir, red])!;
    expect(Array.from(out.data)).toEqual(expected);
    expect(Number.isNaN(out.data[0])).toBe(true);
    expect(Number.isNaN(out.data[1])).toBe(true);
  });

  it('mix with converted and byte leaves in one program', () => {
    const plan = planFused(NDVI)!;
    expect(Array.from(plan.run([plain(nir), red])!.data)).toEqual(expected);
    const bytes = unconverted(Uint8Array.of(10, 20, 0, 40, 50, 60), { scale: 0.01, offset: 0, nodata: 0 });
    const out = plan.run([nir, bytes])!;
    expect(Array.from(out.data)).toEqual(Array.from(unary('abs', binary('normdiff', plain(nir), plain(bytes))).data));
  });

  it('treat a leaf without a no-data value as all valid', () => {
    const samples = Uint16Array.of(0, 1, 2, 3, 4, 5);
    const whole = unconverted(samples, { scale: 1, offset: 0, nodata: -1 });
    const out = planFused(NDVI)!.run([whole, plain(red)])!;
    expect(Number.isNaN(out.data[0])).toBe(false);
    expect(out.data[0]).toBeCloseTo(Math.abs((0 - 0.05) / (0 + 0.05)), 6);
  });
});

describe('upsampling unconverted samples', () => {
  it('keeps them unconverted, with the values of upsampling converted ones', () => {
    const scl = unconverted(Uint8Array.of(3, 8, 0, 4, 9, 10), { scale: 1, offset: 0, nodata: 0 });
    const up = upsample(scl, 2, 1, 0, 3, 5);
    expect(up.raw?.samples).toBeInstanceOf(Uint8Array);
    expect(up.shape).toEqual([3, 5]);
    const reference = upsample(plain(scl), 2, 1, 0, 3, 5);
    expect(Array.from(up.data)).toEqual(Array.from(reference.data));
    // Rows 0 and 1 of the output come from source rows 0 and 1 (offset 1): 3 3 8 8 NaN, then 4 4 9 9 10.
    expect(Array.from(reference.data.subarray(0, 5))).toEqual([3, 3, 8, 8, NaN]);
    expect(Array.from(reference.data.subarray(5, 15))).toEqual([4, 4, 9, 9, 10, 4, 4, 9, 9, 10]);
  });
});
