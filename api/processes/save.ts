import { OpenEOError } from '../../common/errors.js';
import { temporalDim } from '../compiler/cube.js';
import { DEFAULT_QUICKLOOK_SIZE, DEFAULT_ZARR_CHUNK_SIZE, lowerGtiff, lowerJsonCube, lowerJsonValue, lowerJsonVector, lowerNetcdf, lowerPng, lowerZarr, MAX_JSON_VALUES, resultBase } from '../compiler/save.js';
import { describeValue, isCallbackValue, isCube, isSymbolic, isVectorCube, type Value } from '../compiler/values.js';
import { invalid, objectArg, stringArg } from './arguments.js';
import { definition, param } from './scalar.js';
import type { ProcessImplementation, SavedOutput } from './types.js';

/** Colour maps of PNG quick-looks (the worker's png-writer defines their colours). */
export const PNG_COLOR_MAPS = ['viridis', 'greys', 'rdylgn'] as const;

/** Quick-looks may be from 16 to 16384 px on their longer side: smaller shows nothing, larger is no quick-look. */
export const QUICKLOOK_SIZE_RANGE: readonly [number, number] = [16, 16384];

/** Zarr chunk edges from 64 to 4096 px: smaller makes millions of objects, larger chunks too big to fetch for a look. */
export const ZARR_CHUNK_SIZE_RANGE: readonly [number, number] = [64, 4096];

const deflateLevel = (description: string, fallback: number | null) =>
  ({ type: fallback === null ? ['integer', 'null'] : 'integer', minimum: 1, maximum: 9, default: fallback, description }) as const;

/**
 * Output formats: GET /file_formats lists exactly these, save_result accepts them (names
 * case-insensitive, or an alias). Each parameter is a JSON schema with a default.
 */
export const OUTPUT_FORMATS = {
  GTiff: {
    title: 'GeoTIFF (Cloud-Optimized)',
    description: 'One Cloud-Optimized GeoTIFF per date and band: float32, 512 x 512 tiles, DEFLATE with the floating-point predictor, overviews, NaN as no-data.',
    gis_data_types: ['raster'],
    parameters: {
      deflate_level: deflateLevel(
        'zlib level for smaller files (1 fastest, 9 smallest). By default tiles are compressed with the fastest encoding (run-length DEFLATE after the floating-point predictor), about twice as fast as level 1 for under 1 % more size.',
        null,
      ),
    },
    aliases: ['gtiff', 'geotiff', 'tiff', 'tif', 'cog'],
  },
  netCDF: {
    title: 'NetCDF-4 (CF conventions)',
    description: 'One NetCDF-4 file with a variable per band, dimensions (time,) y, x, CF coordinates, grid mapping and NaN fill values.',
    gis_data_types: ['raster'],
    parameters: {
      deflate_level: deflateLevel('DEFLATE level of the data variables.', 1),
    },
    aliases: ['netcdf', 'nc', 'netcdf4'],
  },
  Zarr: {
    title: 'Zarr v3 (zipped store)',
    description: 'One Zarr v3 store in a ZIP archive (entries stored, so any chunk can be read by range): an array per band with dimensions (time,) y, x, CF attributes, coordinates and a grid-mapping array.',
    gis_data_types: ['raster'],
    parameters: {
      deflate_level: deflateLevel('gzip level of the chunks.', 1),
      chunk_size: { type: 'integer', minimum: ZARR_CHUNK_SIZE_RANGE[0], maximum: ZARR_CHUNK_SIZE_RANGE[1], default: DEFAULT_ZARR_CHUNK_SIZE, description: 'Spatial edge of the chunks in pixels (each chunk holds one date).' },
    },
    aliases: ['zarr', 'zarr3'],
  },
  JSON: {
    title: 'JSON',
    description: `Small results as JSON: a data cube of at most ${MAX_JSON_VALUES} values as labelled nested arrays (the layout of xarray's DataArray.to_dict, no-data as null), zonal statistics of aggregate_spatial (values per geometry, then per date and band), or a plain value as it is.`,
    gis_data_types: ['raster', 'other'],
    parameters: {},
    aliases: ['json'],
  },
  PNG: {
    title: 'PNG quick-look',
    description: 'One coloured 8-bit RGBA image per date and band, sampled down to a maximum size; no-data is transparent. For looking at, not for analysis.',
    gis_data_types: ['raster'],
    parameters: {
      colormap: { type: 'string', enum: [...PNG_COLOR_MAPS], default: 'viridis', description: 'Colour map: viridis (any continuous quantity), greys, or rdylgn (red-yellow-green, for vegetation indices).' },
      min: { type: ['number', 'null'], default: null, description: 'Value shown with the low end of the colour map; by default the 2nd percentile of the data.' },
      max: { type: ['number', 'null'], default: null, description: 'Value shown with the high end of the colour map; by default the 98th percentile of the data.' },
      max_size: { type: 'integer', minimum: QUICKLOOK_SIZE_RANGE[0], maximum: QUICKLOOK_SIZE_RANGE[1], default: DEFAULT_QUICKLOOK_SIZE, description: 'Longest side of the image in pixels; larger results are sampled down (nearest neighbour).' },
    },
    aliases: ['png'],
  },
} as const;

export type OutputFormat = keyof typeof OUTPUT_FORMATS;

export function resolveFormat(name: string): OutputFormat {
  const lower = name.toLowerCase();
  for (const [format, spec] of Object.entries(OUTPUT_FORMATS) as [OutputFormat, (typeof OUTPUT_FORMATS)[OutputFormat]][]) {
    if (format.toLowerCase() === lower || (spec.aliases as readonly string[]).includes(lower)) return format;
  }
  throw new OpenEOError('FormatUnsupported', `save_result: format "${name}" is not supported; GET /file_formats lists ${Object.keys(OUTPUT_FORMATS).join(', ')}`);
}

/** The options with defaults filled in, each checked against its parameter's schema. */
function formatOptions(format: OutputFormat, given: Record<string, Value>): Record<string, unknown> {
  const parameters = OUTPUT_FORMATS[format].parameters as Record<string, { type: string | readonly string[]; default: unknown; minimum?: number; maximum?: number; enum?: readonly string[] }>;
  for (const name of Object.keys(given)) {
    if (!(name in parameters)) {
      const accepted = Object.keys(parameters);
      throw invalid('save_result', 'options', `has "${name}", which ${format} does not take (${accepted.length > 0 ? `it takes ${accepted.join(', ')}` : 'it takes none'})`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(parameters)) {
    const value = given[name] ?? null;
    if (value === null) {
      out[name] = schema.default;
      continue;
    }
    const types = typeof schema.type === 'string' ? [schema.type] : schema.type;
    const ok = (types.includes('integer') && typeof value === 'number' && Number.isInteger(value)) || (types.includes('number') && typeof value === 'number' && Number.isFinite(value)) || (types.includes('string') && typeof value === 'string');
    if (!ok) throw invalid('save_result', 'options', `"${name}" must be ${types.filter((t) => t !== 'null').join(' or ')}, got ${describeValue(value)}`);
    if (schema.enum && !schema.enum.includes(value as string)) throw invalid('save_result', 'options', `"${name}" must be one of ${schema.enum.join(', ')}, got "${String(value)}"`);
    if ((schema.minimum !== undefined && (value as number) < schema.minimum) || (schema.maximum !== undefined && (value as number) > schema.maximum)) {
      throw invalid('save_result', 'options', `"${name}" must be from ${schema.minimum} to ${schema.maximum}, got ${String(value)}`);
    }
    out[name] = value;
  }
  return out;
}

/** A value JSON can hold as it is (no cube, no pixel array, no process). */
function isPlainValue(value: Value): boolean {
  if (isCube(value) || isVectorCube(value) || isSymbolic(value) || isCallbackValue(value)) return false;
  if (Array.isArray(value)) return value.every(isPlainValue);
  if (value !== null && typeof value === 'object') return Object.values(value).every(isPlainValue);
  return true;
}

export const SAVE_PROCESSES: ProcessImplementation[] = [
  {
    definition: definition(
      'save_result',
      'Save the result',
      'Writes the data cube as files of the given format; batch jobs list them as result assets.',
      ['cubes', 'export', 'stac'],
      [
        param('data', 'The data to save.', { type: 'object', subtype: 'datacube' }),
        param('format', 'The output format (see GET /file_formats).', { type: 'string', subtype: 'output-format' }),
        param('options', 'Format parameters (see GET /file_formats).', { type: 'object', subtype: 'output-format-options' }, { optional: true, default: {} }),
      ],
      { description: 'The saved result (evaluates to true; the files appear among the job results).', schema: { type: 'object', subtype: 'stac' } },
    ),
    evaluate(args, context) {
      const data: Value = args.data ?? null;
      const format = resolveFormat(stringArg('save_result', args, 'format'));
      const options = formatOptions(format, objectArg('save_result', args, 'options') ?? {});
      const { builder } = context;
      const base = resultBase(context.target.outputDir, context.outputs.length);
      if (isVectorCube(data)) {
        if (format !== 'JSON') throw invalid('save_result', 'data', `is zonal statistics (a vector cube: one value per geometry), which save as JSON, not ${format}`);
        context.outputs.push({ format, taskKeys: lowerJsonVector(data.cube, builder, base), grid: null, timeRange: null });
        return true;
      }
      if (!isCube(data)) {
        // Only JSON holds a value that is not a cube: a number or array computed from literals.
        if (format !== 'JSON' || !isPlainValue(data)) throw invalid('save_result', 'data', `must be a data cube${format === 'JSON' ? ' or a plain value' : ' (only JSON saves plain values)'}, got ${describeValue(data)}`);
        context.outputs.push({ format, taskKeys: lowerJsonValue(data, builder, base), grid: null, timeRange: null });
        return true;
      }
      const cube = data.cube;
      let taskKeys: string[];
      switch (format) {
        case 'GTiff':
          taskKeys = lowerGtiff(cube, builder, base, { deflateLevel: options.deflate_level as number | null });
          break;
        case 'netCDF':
          taskKeys = lowerNetcdf(cube, builder, base, { deflateLevel: options.deflate_level as number });
          break;
        case 'Zarr':
          taskKeys = lowerZarr(cube, builder, base, { deflateLevel: options.deflate_level as number, chunkSize: options.chunk_size as number });
          break;
        case 'JSON':
          taskKeys = lowerJsonCube(cube, builder, base);
          break;
        case 'PNG': {
          const [min, max] = [options.min as number | null, options.max as number | null];
          if ((min === null) !== (max === null)) throw invalid('save_result', 'options', 'PNG takes both "min" and "max" or neither');
          if (min !== null && max !== null && !(max > min)) throw invalid('save_result', 'options', `PNG "max" (${max}) must be greater than "min" (${min})`);
          taskKeys = lowerPng(cube, builder, base, { colormap: options.colormap as string, range: min === null ? null : [min, max!], maxSize: options.max_size as number });
          break;
        }
      }
      const times = temporalDim(cube)?.labels ?? null;
      const saved: SavedOutput = { format, taskKeys, grid: { ...cube.grid, transform: [...cube.grid.transform] }, timeRange: times && times.length > 0 ? [times[0]!, times[times.length - 1]!] : null };
      context.outputs.push(saved);
      return true;
    },
  },
];
