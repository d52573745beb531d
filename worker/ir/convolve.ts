import { DimensionError, floatLike, type NDArray, sizeOf } from './nd-array.js';

/**
 * Focal weighted sums over the trailing (y, x) plane. The compiler hands over a tile with its
 * halo (taken from the neighbouring tiles, or made up by the border rule at the cube's edge),
 * so every output pixel sees its whole neighbourhood and the output is the tile without halo.
 * Kernel cell (i, j) weighs the pixel i - ky rows and j - kx columns away, ky and kx being the
 * half sizes: the kernel is laid over the image as written, not mirrored.
 */
export function convolve(x: NDArray, kernel: number[][], factor: number, replaceInvalid: number): NDArray {
  const kh = kernel.length;
  const kw = kernel[0]?.length ?? 0;
  const rank = x.shape.length;
  if (rank < 2) throw new DimensionError('a kernel needs an array with y and x dimensions');
  const inH = x.shape[rank - 2]!;
  const inW = x.shape[rank - 1]!;
  const outH = inH - kh + 1;
  const outW = inW - kw + 1;
  if (outH < 0 || outW < 0) throw new DimensionError(`a ${kh}x${kw} kernel does not fit a ${inH}x${inW} window`);
  const planes = sizeOf(x.shape.slice(0, rank - 2));
  const out = floatLike(x.data, null, planes * outH * outW);
  const clean = new Float64Array(inH * inW);
  // Zero weights are skipped: sparse kernels (edge detectors, crosses) cost what they use.
  const taps: { dy: number; dx: number; w: number }[] = [];
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) if (kernel[i]![j] !== 0) taps.push({ dy: i, dx: j, w: kernel[i]![j]! });
  for (let p = 0; p < planes; p++) {
    const base = p * inH * inW;
    for (let i = 0; i < inH * inW; i++) {
      const v = x.data[base + i]!;
      clean[i] = Number.isFinite(v) ? v : replaceInvalid;
    }
    const outBase = p * outH * outW;
    for (let r = 0; r < outH; r++) {
      for (let c = 0; c < outW; c++) {
        let sum = 0;
        for (const { dy, dx, w } of taps) sum += w * clean[(r + dy) * inW + c + dx]!;
        out[outBase + r * outW + c] = sum * factor;
      }
    }
  }
  return { dims: x.dims, shape: [...x.shape.slice(0, rank - 2), outH, outW], data: out };
}
