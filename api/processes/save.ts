import { OpenEOError } from '../../common/errors.js';
import { temporalDim } from '../compiler/cube.js';
import { lowerGtiff, lowerNetcdf } from '../compiler/save.js';
import { isCube, type Value } from '../compiler/values.js';
import { invalid, objectArg, stringArg } from './arguments.js';
import { definition, param } from './scalar.js';
import type { ProcessImplementation } from './types.js';

/** Output formats: GET /file_formats lists these, save_result accepts them (names case-insensitive). */
export const OUTPUT_FORMATS = {
  GTiff: {
    title: 'GeoTIFF (Cloud-Optimized)',
    gis_data_types: ['raster'],
    parameters: {
      deflate_level: { type: ['integer', 'null'], minimum: 1, maximum: 9, default: null, description: 'zlib level for smaller files; by default tiles are compressed with the fastest encoding (run-length DEFLATE after the floating-point predictor), about 2x faster for under 1 % more size.' },
    },
    aliases: ['gtiff', 'geotiff', 'tiff', 'tif', 'cog'],
  },
  netCDF: {
    title: 'NetCDF-4 (CF conventions)',
    gis_data_types: ['raster'],
    parameters: {
      deflate_level: { type: 'integer', minimum: 1, maximum: 9, default: 1, description: 'DEFLATE level of the data variables.' },
    },
    aliases: ['netcdf', 'nc', 'netcdf4'],
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
      if (!isCube(data)) throw invalid('save_result', 'data', 'must be a data cube');
      const format = resolveFormat(stringArg('save_result', args, 'format'));
      const options = objectArg('save_result', args, 'options') ?? {};
      for (const name of Object.keys(options)) {
        if (!(name in OUTPUT_FORMATS[format].parameters)) throw invalid('save_result', 'options', `has "${name}", which ${format} does not take (it takes ${Object.keys(OUTPUT_FORMATS[format].parameters).join(', ')})`);
      }
      const level = options.deflate_level ?? (format === 'netCDF' ? OUTPUT_FORMATS.netCDF.parameters.deflate_level.default : null);
      if (level !== null && (typeof level !== 'number' || !Number.isInteger(level) || level < 1 || level > 9)) throw invalid('save_result', 'options', 'deflate_level must be an integer from 1 to 9');
      const lower = format === 'GTiff' ? lowerGtiff : lowerNetcdf;
      const taskKeys = lower(data.cube, context.builder, context.target.outputDir, { deflateLevel: level });
      const times = temporalDim(data.cube)?.labels ?? null;
      context.outputs.push({ format, taskKeys, grid: { ...data.cube.grid, transform: [...data.cube.grid.transform] }, timeRange: times && times.length > 0 ? [times[0]!, times[times.length - 1]!] : null });
      return true;
    },
  },
];
