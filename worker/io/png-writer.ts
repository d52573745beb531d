/**
 * PNG quick-looks of one band: values scaled linearly between two limits and coloured through a
 * colour map, no-data transparent. Encoded with fast-png; georeferencing and the scale travel as
 * PNG text chunks (a PNG has no other place for them) and in the result's STAC metadata.
 */
import { encode } from 'fast-png';
import { writeAll, writeFileAtomically } from './atomic-writer.js';

/**
 * Colour maps as evenly spaced stops, interpolated linearly in RGB:
 * - `viridis`: perceptually uniform and readable with colour-blindness, right for any continuous
 *   quantity; the stops are the map's published colours at tenths;
 * - `greys`: black to white, for single-band intensity;
 * - `rdylgn`: red-yellow-green (ColorBrewer's 11 classes), the custom for vegetation indices.
 */
export const COLOR_MAPS = {
  viridis: ['#440154', '#482475', '#414487', '#355f8d', '#2a788e', '#21918c', '#22a884', '#44bf70', '#7ad151', '#bddf26', '#fde725'],
  greys: ['#000000', '#ffffff'],
  rdylgn: ['#a50026', '#d73027', '#f46d43', '#fdae61', '#fee08b', '#ffffbf', '#d9ef8b', '#a6d96a', '#66bd63', '#1a9850', '#006837'],
} as const;

export type ColorMapName = keyof typeof COLOR_MAPS;

/** viridis: a safe choice for any continuous data. */
export const DEFAULT_COLOR_MAP: ColorMapName = 'viridis';

/**
 * Percentiles the colour scale spans unless the user gives limits: 2 and 98, so a few outliers
 * (a glint, a cloud edge) do not wash out the rest of the image.
 */
export const QUICKLOOK_PERCENTILES: readonly [number, number] = [2, 98];

/** Entries of the lookup table a colour map is expanded into: one per 8-bit level. */
export const COLOR_TABLE_SIZE = 256;

/** RGB lookup table of `name`, COLOR_TABLE_SIZE entries from the low to the high end. */
export function colorTable(name: ColorMapName): Uint8Array {
  const stops = COLOR_MAPS[name].map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number]);
  const table = new Uint8Array(COLOR_TABLE_SIZE * 3);
  for (let i = 0; i < COLOR_TABLE_SIZE; i++) {
    const position = (i / (COLOR_TABLE_SIZE - 1)) * (stops.length - 1);
    const lower = Math.min(stops.length - 2, Math.floor(position));
    const f = position - lower;
    for (let c = 0; c < 3; c++) table[i * 3 + c] = Math.round(stops[lower]![c]! * (1 - f) + stops[lower + 1]![c]! * f);
  }
  return table;
}

/** The `low`-th and `high`-th percentiles of the finite values (linear interpolation), or null when there are none. */
export function percentileRange(values: Float32Array, low: number, high: number): [number, number] | null {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]!)) n++;
  if (n === 0) return null;
  const finite = new Float32Array(n);
  for (let i = 0, j = 0; i < values.length; i++) if (Number.isFinite(values[i]!)) finite[j++] = values[i]!;
  finite.sort();
  const at = (p: number): number => {
    const position = (p / 100) * (n - 1);
    const lower = Math.floor(position);
    const upper = Math.min(n - 1, lower + 1);
    return finite[lower]! + (finite[upper]! - finite[lower]!) * (position - lower);
  };
  return [at(low), at(high)];
}

/** The table level of `value` on the scale [min, max] (clamped); a flat scale maps to the middle. */
export function levelOf(value: number, min: number, max: number): number {
  if (!(max > min)) return COLOR_TABLE_SIZE >> 1;
  const level = Math.round(((value - min) / (max - min)) * (COLOR_TABLE_SIZE - 1));
  return level < 0 ? 0 : level > COLOR_TABLE_SIZE - 1 ? COLOR_TABLE_SIZE - 1 : level;
}

/** RGBA pixels of `values`: coloured on [min, max], non-finite values fully transparent. */
export function colorize(values: Float32Array, table: Uint8Array, min: number, max: number): Uint8Array {
  const rgba = new Uint8Array(values.length * 4);
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (!Number.isFinite(value)) continue;
    const level = levelOf(value, min, max) * 3;
    rgba[i * 4] = table[level]!;
    rgba[i * 4 + 1] = table[level + 1]!;
    rgba[i * 4 + 2] = table[level + 2]!;
    rgba[i * 4 + 3] = 255;
  }
  return rgba;
}

/** Writes an 8-bit RGBA PNG with text chunks, atomically. */
export async function writePng(path: string, image: { width: number; height: number; rgba: Uint8Array; text: Record<string, string> }): Promise<{ bytes: number }> {
  const png = encode({ width: image.width, height: image.height, data: image.rgba, channels: 4, depth: 8, text: image.text });
  return writeFileAtomically(path, 'PNG', (handle) => writeAll(handle, [png]));
}
