import { isAbsolute, join } from 'node:path';
import { TaskError } from '../../common/errors.js';
import type { ReadCogNode, ReadZarrNode } from '../../common/ir.js';
import type { TypedArray } from '../../common/raster.js';
import { openRaster } from '../io/cog-reader.js';
import { openZarrArrayShared } from '../io/zarr-array.js';
import { type NDArray, rawNodata, samplesToFloat, unconverted } from './nd-array.js';

/** Reads behind the IR's `read_*` nodes: decoded to float32 with NaN for no data. */

/** Relative hrefs and store paths in task arguments are relative to DATA_DIR. */
export function resolveDataPath(dataDir: string, path: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path) || isAbsolute(path)) return path;
  return join(dataDir, path);
}

function toFloat(raw: TypedArray, nodata: number | null, scale: number, offset: number, validRange: [number, number] | null = null): Float32Array {
  if (validRange === null && (raw instanceof Uint16Array || raw instanceof Uint8Array)) return samplesToFloat({ samples: raw, scale, offset, nodata: rawNodata(nodata) });
  const out = new Float32Array(raw.length);
  const identity = scale === 1 && offset === 0;
  const hasNodata = nodata !== null && !Number.isNaN(nodata);
  const nan = NaN; // a local: see samplesToFloat (nd-array.ts)
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i]!;
    if ((hasNodata && v === nodata) || Number.isNaN(v)) {
      out[i] = nan;
      continue;
    }
    const value = identity ? v : v * scale + offset;
    out[i] = validRange !== null && (value < validRange[0] || value > validRange[1]) ? nan : value;
  }
  return out;
}

export async function readCog(node: ReadCogNode, dataDir: string, signal: { aborted: boolean }): Promise<NDArray> {
  const source = await openRaster(resolveDataPath(dataDir, node.href));
  if (signal.aborted) throw new TaskError('canceled', 'canceled');
  const raw = await source.readWindow(node.window, { level: node.level, band: node.band });
  const nodata = node.nodata ?? source.nodata;
  const shape = [node.window.height, node.window.width];
  if (raw instanceof Uint16Array || raw instanceof Uint8Array) return unconverted(['y', 'x'], shape, { samples: raw, scale: node.scale, offset: node.offset, nodata: rawNodata(nodata) });
  return { dims: ['y', 'x'], shape, data: toFloat(raw, nodata, node.scale, node.offset) };
}

export async function readZarr(node: ReadZarrNode, dataDir: string): Promise<NDArray> {
  const array = await openZarrArrayShared(resolveDataPath(dataDir, node.store), node.array);
  const [t0, t1] = node.t;
  const [r0, r1] = node.rows;
  const [c0, c1] = node.cols;
  const height = r1 - r0;
  const width = c1 - c0;
  const times = t1 - t0;
  // Storage rows of the requested cube rows.
  const s0 = node.flipY ? node.storageHeight - r1 : r0;
  const s1 = node.flipY ? node.storageHeight - r0 : r1;
  // Storage columns, split where the request wraps around the antimeridian of the storage.
  const start = (((c0 + node.colShift) % node.storageWidth) + node.storageWidth) % node.storageWidth;
  const ranges: [number, number][] = start + width <= node.storageWidth ? [[start, start + width]] : [[start, node.storageWidth], [0, start + width - node.storageWidth]];
  const out = new Float32Array(times * height * width);
  let colOffset = 0;
  for (const [a, b] of ranges) {
    const raw = await array.read([t0, s0, a], [t1, s1, b]);
    const values = toFloat(raw, node.fill, node.scale, node.offset, node.validRange);
    const w = b - a;
    for (let t = 0; t < times; t++) {
      for (let r = 0; r < height; r++) {
        const storageRow = node.flipY ? height - 1 - r : r;
        const src = (t * height + storageRow) * w;
        out.set(values.subarray(src, src + w), (t * height + r) * width + colOffset);
      }
    }
    colOffset += w;
  }
  return { dims: ['t', 'y', 'x'], shape: [times, height, width], data: out };
}
