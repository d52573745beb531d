import { mkdir } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { BytesChunk } from '../../common/chunk.js';
import { TaskError } from '../../common/errors.js';
import type { GeoTransform } from '../../common/raster.js';
import { resolveDataPath } from '../ir/reads.js';
import { type ColorMapName, colorize, colorTable, percentileRange, QUICKLOOK_PERCENTILES, writePng } from '../io/png-writer.js';
import { arrayInputs } from './cube-kernels.js';
import type { KernelDefinition } from './kernel.js';
import { fileReport } from './save-report.js';
import type { PlanePart } from './save-window.js';

/** Media type of quick-looks. */
export const PNG_MEDIA_TYPE = 'image/png';

/**
 * The source pixel a quick-look pixel shows: the centre of its `step`² block, nearest neighbour,
 * as GDAL's default resampling for reduced output sizes does.
 */
export function sourceIndex(index: number, step: number, size: number): number {
  return Math.min(size - 1, index * step + (step >> 1));
}

export interface PngSampleArgs {
  /** Where the input chunk sits and which plane of it this quick-look shows. */
  part: PlanePart;
  step: number;
  /** Size of the full-resolution grid. */
  width: number;
  height: number;
  /** Size of the quick-look. */
  outWidth: number;
  outHeight: number;
}

interface SampleInfo {
  row: number;
  col: number;
  rows: number;
  cols: number;
}

/** The first quick-look index whose source pixel is at or after `from` (`count` when none is). */
function firstAtOrAfter(from: number, step: number, size: number, count: number): number {
  let i = Math.max(0, Math.floor((from - (step >> 1)) / step));
  while (i < count && sourceIndex(i, step, size) < from) i++;
  return i;
}

/** The quick-look pixels one cube chunk holds: a small block, so no worker gathers the full-resolution cube. */
export const savePngSample: KernelDefinition = {
  placement: 'thread',
  run(args: PngSampleArgs, inputs) {
    const [chunk] = arrayInputs(inputs);
    if (!chunk) throw new TaskError('internal', 'a quick-look sample needs its chunk');
    const { part, step } = args;
    const row = firstAtOrAfter(part.y, step, args.height, args.outHeight);
    const rows = firstAtOrAfter(part.y + part.height, step, args.height, args.outHeight) - row;
    const col = firstAtOrAfter(part.x, step, args.width, args.outWidth);
    const cols = firstAtOrAfter(part.x + part.width, step, args.width, args.outWidth) - col;
    let plane = 0;
    let stride = part.width * part.height;
    for (let d = chunk.shape.length - 3; d >= 0; d--) {
      plane += part.select[d]! * stride;
      stride *= chunk.shape[d]!;
    }
    const values = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const y = sourceIndex(row + r, step, args.height) - part.y;
      for (let c = 0; c < cols; c++) values[r * cols + c] = chunk.data[plane + y * part.width + sourceIndex(col + c, step, args.width) - part.x]!;
    }
    const info: SampleInfo = { row, col, rows, cols };
    const out: BytesChunk = { kind: 'bytes', data: new Uint8Array(values.buffer), info: info as unknown as Record<string, unknown> };
    return { chunk: out };
  },
};

export interface PngFileArgs {
  path: string;
  /** The quick-look's grid (the cube's, coarsened by the sampling step). */
  grid: { epsg: number; transform: GeoTransform; width: number; height: number };
  colormap: ColorMapName;
  /** Scale limits; null: the data's QUICKLOOK_PERCENTILES. */
  range: [number, number] | null;
  /** What the image shows (a band label, a date, or `data`). */
  label: string;
}

function round(value: number): number {
  return Number(value.toPrecision(6));
}

/** Puts the samples together, scales and colours them, and writes the PNG. */
export const savePng: KernelDefinition = {
  placement: 'thread',
  async run(args: PngFileArgs, inputs, context) {
    const { width, height } = args.grid;
    const values = new Float32Array(width * height).fill(NaN);
    for (const input of inputs) {
      if (input.kind !== 'bytes') throw new TaskError('internal', 'a quick-look sample is not bytes');
      const info = input.info as unknown as SampleInfo;
      const samples = new Float32Array(input.data.slice().buffer);
      for (let r = 0; r < info.rows; r++) values.set(samples.subarray(r * info.cols, (r + 1) * info.cols), (info.row + r) * width + info.col);
    }
    const percentiles = args.range ? null : percentileRange(values, QUICKLOOK_PERCENTILES[0], QUICKLOOK_PERCENTILES[1]);
    const [min, max] = args.range ?? percentiles ?? [0, 1];
    const scale = args.range
      ? `${args.colormap} from ${round(min)} to ${round(max)}`
      : percentiles
        ? `${args.colormap} from ${round(min)} (${QUICKLOOK_PERCENTILES[0]} %) to ${round(max)} (${QUICKLOOK_PERCENTILES[1]} %)`
        : `${args.colormap}; no valid pixels`;
    if (context.signal.aborted) throw new TaskError('canceled', 'canceled');
    const path = resolveDataPath(context.dataDir, args.path);
    await mkdir(dirname(path), { recursive: true });
    const { bytes } = await writePng(path, {
      width,
      height,
      rgba: colorize(values, colorTable(args.colormap), min, max),
      text: {
        Title: `openEO result: ${args.label}`,
        Description: scale,
        'openeo:scale_min': String(min),
        'openeo:scale_max': String(max),
        'openeo:colormap': args.colormap,
        'proj:epsg': String(args.grid.epsg),
        'proj:transform': JSON.stringify(args.grid.transform),
      },
    });
    return fileReport({
      name: basename(path),
      path: args.path,
      bytes,
      type: PNG_MEDIA_TYPE,
      roles: ['data', 'visual'],
      grid: args.grid,
      description: `quick-look of ${args.label}: ${scale}; transparent where there is no data`,
    });
  },
};
