import type { ArrayChunk } from '../../common/chunk.js';
import type { ChunkPlacement } from './save-report.js';

/** A rectangle of the output grid (pixels). */
export interface OutputWindow {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Where an input chunk sits, and which index of each of its non-spatial dimensions to take. */
export type PlanePart = ChunkPlacement & { select: number[] };

/**
 * One 2-D plane of the output cut from the chunks under `window`: the writers of tiled formats
 * (COG tiles, Zarr chunks) build each output block from the cube chunks it overlaps, whatever
 * their layout. Pixels no chunk covers stay NaN.
 */
export function cutWindow(chunks: ArrayChunk[], parts: PlanePart[], window: OutputWindow): Float32Array {
  const whole = wholeChunk(chunks, parts, window);
  if (whole) return whole;
  const region = new Float32Array(window.width * window.height).fill(NaN);
  chunks.forEach((chunk, i) => {
    const part = parts[i]!;
    const plane = planeOffset(chunk, part);
    const x0 = Math.max(window.x, part.x);
    const x1 = Math.min(window.x + window.width, part.x + part.width);
    const y0 = Math.max(window.y, part.y);
    const y1 = Math.min(window.y + window.height, part.y + part.height);
    for (let y = y0; y < y1; y++) {
      const src = plane + (y - part.y) * part.width + (x0 - part.x);
      region.set(chunk.data.subarray(src, src + (x1 - x0)) as Float32Array, (y - window.y) * window.width + (x0 - window.x));
    }
  });
  return region;
}

/** Where the selected 2-D plane of a chunk starts in its data. */
function planeOffset(chunk: ArrayChunk, part: PlanePart): number {
  let plane = 0;
  let stride = part.width * part.height;
  for (let d = chunk.shape.length - 3; d >= 0; d--) {
    plane += part.select[d]! * stride;
    stride *= chunk.shape[d]!;
  }
  return plane;
}

/**
 * The window when it is exactly one plane of a single float32 chunk (output tiles on the cube's
 * own chunk grid, the common case): a view, not a copy. Callers only read the region.
 */
function wholeChunk(chunks: ArrayChunk[], parts: PlanePart[], window: OutputWindow): Float32Array | null {
  if (chunks.length !== 1) return null;
  const [chunk, part] = [chunks[0]!, parts[0]!];
  const same = part.x === window.x && part.y === window.y && part.width === window.width && part.height === window.height;
  if (!same || !(chunk.data instanceof Float32Array)) return null;
  const start = planeOffset(chunk, part);
  return chunk.data.subarray(start, start + window.width * window.height);
}
