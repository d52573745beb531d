import { OpenEOError } from '../../common/errors.js';
import { type LazyCube, temporalDim } from '../compiler/cube.js';
import { mapChunks } from '../compiler/cube-ops.js';
import { boxPolygon, envelopeOf, parseGeometries, pixelWindow } from '../compiler/geometry.js';
import { maskByPolygons } from '../compiler/polygon-mask.js';
import { CubeValue } from '../compiler/values.js';
import { crop } from '../compiler/window.js';
import { arrayArg, cubeArg, invalid, optionalString, stringArray } from './arguments.js';
import { bandsOf, BBOX_SCHEMA, GEOJSON, labelInInterval, parseBbox, parseTemporal, RASTER_CUBE, SPATIAL_CUBE, SPATIAL_DIMENSIONS, type TemporalDimension, TEMPORAL_CUBE, TEMPORAL_INTERVAL, VECTOR_CUBE } from './cube-common.js';
import { definition, exceptions, param } from './definition.js';
import type { ProcessImplementation } from './types.js';

/**
 * Filters keep part of a cube. Right after load_collection they narrow the load itself (only
 * what is kept is ever read); on any other cube they crop the chunk programs: a crop keeps the
 * source's tiles and time blocks, so it adds no task and fuses with what comes next.
 */

const BANDS_CUBE = { ...RASTER_CUBE, dimensions: [{ type: 'bands' }] };

/** Band positions a band name or common name selects: the name first, else every band of that common name. */
function bandsNamed(bands: { labels: string[]; commonNames?: (string | null)[] }, name: string): number[] {
  const byName = bands.labels.indexOf(name);
  if (byName >= 0) return [byName];
  return (bands.commonNames ?? []).flatMap((common, i) => (common === name ? [i] : []));
}

const filterBands: ProcessImplementation = {
  definition: definition(
    'filter_bands',
    'Filter the bands',
    'Keeps the bands that match a name, a common name or a wavelength range, in the order asked for; bands matching nothing are dropped, and a name that matches no band selects nothing.',
    ['cubes', 'filter'],
    [
      param('data', 'A data cube with one bands dimension.', BANDS_CUBE),
      param('bands', 'Band names or common names; a common name selects all bands carrying it, in their order.', { type: 'array', items: { type: 'string', subtype: 'band-name' } }, { optional: true, default: [] }),
      param('wavelengths', 'Ranges [min, max] of centre wavelengths in micrometres; bands whose centre wavelength is known and lies in a range are kept.', { type: 'array', items: { type: 'array', minItems: 2, maxItems: 2, items: { type: 'number' } } }, { optional: true, default: [] }),
    ],
    { description: 'The data cube with the selected bands.', schema: BANDS_CUBE },
    { exceptions: exceptions({ BandFilterParameterMissing: 'Neither bands nor wavelengths were given.', DimensionMissing: 'The data cube has no bands dimension.' }) },
  ),
  evaluate(args) {
    const cube = cubeArg('filter_bands', args, 'data');
    const wanted = stringArray('filter_bands', args, 'bands') ?? [];
    const ranges = args.wavelengths === undefined || args.wavelengths === null ? [] : arrayArg('filter_bands', args, 'wavelengths');
    if (wanted.length === 0 && ranges.length === 0) throw new OpenEOError('BandFilterParameterMissing', 'filter_bands: give band names in "bands" or wavelength ranges in "wavelengths"');
    const bands = bandsOf(cube);
    if (!bands) throw new OpenEOError('DimensionMissing', 'filter_bands: the data cube has no bands dimension');
    const selected: number[] = [];
    const add = (i: number): void => void (selected.includes(i) ? null : selected.push(i));
    for (const name of wanted) bandsNamed(bands, name).forEach(add);
    ranges.forEach((range, r) => {
      if (!Array.isArray(range) || range.length !== 2 || typeof range[0] !== 'number' || typeof range[1] !== 'number') throw invalid('filter_bands', 'wavelengths', `has an entry (${r}) that is not [min, max]`);
      const [min, max] = range as [number, number];
      (bands.wavelengths ?? []).forEach((w, i) => {
        if (w !== null && w >= min && w <= max) add(i);
      });
    });
    const names = selected.map((i) => bands.labels[i]!);
    if (cube.reload && selected.length > 0) {
      const reloaded = cube.reload({ bands: names });
      if (reloaded) return new CubeValue(reloaded);
    }
    const pick = <T>(list: T[] | undefined): T[] | undefined => list && selected.map((i) => list[i]!);
    const dims = cube.dims.map((d) => (d === bands ? { ...bands, labels: names, commonNames: pick(bands.commonNames), wavelengths: pick(bands.wavelengths) } : d));
    return new CubeValue(mapChunks(cube, dims, (node) => ({ op: 'take', dim: bands.name, indices: selected, x: node }), `${cube.description}, bands ${names.join(', ') || 'none'}`));
  },
};

/** Keeps the labels of temporal dimension `dim` in [start, end). */
function filterTime(cube: LazyCube, dim: TemporalDimension, interval: [string | null, string | null]): LazyCube {
  const kept = dim.labels.flatMap((label, i) => (labelInInterval(label, interval) ? [i] : []));
  if (kept.length === dim.labels.length) return cube;
  const description = `${cube.description}, ${dim.name} in [${interval[0] ?? '…'}, ${interval[1] ?? '…'})`;
  const contiguous = kept.every((k, i) => i === 0 || k === kept[i - 1]! + 1);
  // A run of dates of the blocked dimension is a crop of its time blocks (sorted labels give one).
  if (temporalDim(cube) === dim && contiguous) {
    const start = kept[0] ?? 0;
    return crop(cube, { times: { start, end: start + kept.length } }, description);
  }
  const dims = cube.dims.map((d) => (d === dim ? { ...dim, labels: kept.map((i) => dim.labels[i]!) } : d));
  return mapChunks(cube, dims, (node) => ({ op: 'take', dim: dim.name, indices: kept, x: node }), description);
}

const filterTemporal: ProcessImplementation = {
  definition: definition(
    'filter_temporal',
    'Filter by time',
    'Keeps the time steps from the start (included) up to the end (excluded) of an interval, on one temporal dimension or on all of them.',
    ['cubes', 'filter'],
    [
      param('data', 'A data cube with a temporal dimension.', TEMPORAL_CUBE),
      param('extent', 'The interval [start, end); one end may be null (open).', TEMPORAL_INTERVAL),
      param('dimension', 'The temporal dimension to filter; null filters every temporal dimension.', { type: ['string', 'null'] }, { optional: true, default: null }),
    ],
    { description: 'The data cube with fewer time steps.', schema: TEMPORAL_CUBE },
    { exceptions: exceptions({ DimensionNotAvailable: 'The data cube has no (such) temporal dimension.', TemporalExtentEmpty: 'The interval ends before or where it starts.' }) },
  ),
  evaluate(args) {
    const cube = cubeArg('filter_temporal', args, 'data');
    const extent = parseTemporal('filter_temporal', 'extent', args.extent ?? null);
    const name = optionalString('filter_temporal', args, 'dimension');
    const temporal = cube.dims.filter((d): d is TemporalDimension => d.type === 'temporal' && (name === null || d.name === name));
    if (temporal.length === 0) {
      throw new OpenEOError('DimensionNotAvailable', name === null ? 'filter_temporal: the data cube has no temporal dimension' : `filter_temporal: the data cube has no temporal dimension "${name}" (dimensions: ${cube.dims.map((d) => d.name).join(', ')})`);
    }
    if (cube.reload && temporal.length === 1 && temporal[0] === temporalDim(cube)) {
      const reloaded = cube.reload({ temporal: extent });
      if (reloaded) return new CubeValue(reloaded);
    }
    let out = cube;
    for (const dim of temporal) out = filterTime(out, out.dims.find((d): d is TemporalDimension => d.name === dim.name)!, extent);
    return new CubeValue(out);
  },
};

const filterBbox: ProcessImplementation = {
  definition: definition(
    'filter_bbox',
    'Filter by bounding box',
    'Keeps the pixels whose centres lie in a bounding box; a box in another CRS than the cube is first reprojected (its envelope in the cube\'s CRS is used). The result may be empty.',
    ['cubes', 'filter'],
    [param('data', 'A raster data cube (vector cubes are not supported).', [SPATIAL_CUBE, VECTOR_CUBE]), param('extent', 'The bounding box.', BBOX_SCHEMA)],
    { description: 'The data cube limited in space.', schema: [{ ...RASTER_CUBE, dimensions: [SPATIAL_DIMENSIONS] }, VECTOR_CUBE] },
  ),
  evaluate(args) {
    const cube = cubeArg('filter_bbox', args, 'data');
    const bbox = parseBbox('filter_bbox', 'extent', args.extent ?? null);
    if (cube.reload) {
      const reloaded = cube.reload({ bbox });
      if (reloaded) return new CubeValue(reloaded);
    }
    if (bbox.west > bbox.east) throw new OpenEOError('FeatureUnsupported', 'filter_bbox: a box across the antimeridian can only narrow load_collection; filter right after loading');
    const envelope = envelopeOf('filter_bbox', [boxPolygon(bbox.west, bbox.south, bbox.east, bbox.north)], bbox.crs, cube.grid.epsg);
    const window = pixelWindow(cube.grid, envelope);
    return new CubeValue(crop(cube, window, `${cube.description}, within [${bbox.west}, ${bbox.south}, ${bbox.east}, ${bbox.north}] (EPSG:${bbox.crs})`));
  },
};

const filterSpatial: ProcessImplementation = {
  definition: definition(
    'filter_spatial',
    'Filter by polygons',
    'Crops the cube to the envelope of polygons and sets the pixels whose centres lie in none of them to no data.',
    ['cubes', 'filter'],
    [param('data', 'A raster data cube.', SPATIAL_CUBE), param('geometries', 'GeoJSON polygons (a Polygon, MultiPolygon, Feature or FeatureCollection); vector cubes are not supported.', [VECTOR_CUBE, GEOJSON])],
    { description: 'The data cube limited to the polygons.', schema: SPATIAL_CUBE },
  ),
  evaluate(args) {
    const cube = cubeArg('filter_spatial', args, 'data');
    const set = parseGeometries('filter_spatial', 'geometries', args.geometries ?? null);
    const envelope = envelopeOf('filter_spatial', set.geometries.flat(), set.epsg, cube.grid.epsg);
    const cropped = crop(cube, pixelWindow(cube.grid, envelope), `${cube.description}, within polygons`);
    return new CubeValue(maskByPolygons('filter_spatial', cropped, set, false, NaN, cropped.description));
  },
};

export const FILTER_PROCESSES: ProcessImplementation[] = [filterBands, filterTemporal, filterBbox, filterSpatial];

