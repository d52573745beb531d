import { OpenEOError } from '../../common/errors.js';
import type { CubeDimension, LazyCube } from '../compiler/cube.js';
import { mapChunks } from '../compiler/cube-ops.js';
import { CubeValue, type Value } from '../compiler/values.js';
import { arrayArg, cubeArg, invalid, optionalString, stringArg } from './arguments.js';
import { dimensionOf, RASTER_CUBE } from './cube-common.js';
import { definition, exceptions, param } from './definition.js';
import type { ProcessImplementation } from './types.js';

/**
 * Processes on the dimensions of a cube and their labels. Labels are metadata: renaming them
 * changes no chunk program. Chunk arrays call the spatial dimensions y and x whatever their
 * names, so those two names are kept for them.
 */

/** Names chunk arrays give the spatial dimensions; no other dimension may take them. */
const SPATIAL_ARRAY_NAMES = ['x', 'y'];
/** The type add_dimension gives a dimension unless told otherwise. */
const DEFAULT_DIMENSION_TYPE = 'other';

function requireNewName(process: string, cube: LazyCube, name: string): void {
  if (cube.dims.some((d) => d.name === name)) throw new OpenEOError('DimensionExists', `${process}: the data cube already has a dimension "${name}"`);
  if (SPATIAL_ARRAY_NAMES.includes(name)) throw new OpenEOError('FeatureUnsupported', `${process}: "${name}" is reserved for a spatial dimension here; choose another name`);
}

/** The cube with other dimension metadata and the same chunks (labels and names of spatial dimensions). */
function relabelled(cube: LazyCube, dims: CubeDimension[], description: string): LazyCube {
  return { dims, grid: cube.grid, layout: cube.layout, description, chunk: (coord) => cube.chunk(coord) };
}

/** The dimension with new labels; bands keep their common names and wavelengths (they describe the band, not its label). */
function withLabels(dim: Exclude<CubeDimension, { type: 'spatial' }>, labels: (string | number)[]): CubeDimension {
  if (dim.type === 'other') return { ...dim, labels };
  return { ...dim, labels: labels.map(String) };
}

/** Whether labels are 0, 1, 2, … (as numbers or as their text). */
function enumerated(labels: (string | number)[]): boolean {
  return labels.every((l, i) => l === i || l === String(i));
}

function sameLabel(a: string | number, b: string | number): boolean {
  return a === b || String(a) === String(b);
}

/** Pixel-centre coordinates of a spatial dimension. */
function spatialLabels(cube: LazyCube, axis: 'x' | 'y'): number[] {
  const [x0, dx, , y0, , dy] = cube.grid.transform;
  return axis === 'x' ? Array.from({ length: cube.grid.width }, (_, i) => x0 + (i + 0.5) * dx) : Array.from({ length: cube.grid.height }, (_, i) => y0 + (i + 0.5) * dy);
}

const addDimension: ProcessImplementation = {
  definition: definition(
    'add_dimension',
    'Add a dimension',
    'Gives the data cube a new dimension with a single label; every value sits at that label. The new dimension comes first.',
    ['cubes'],
    [
      param('data', 'The data cube.', RASTER_CUBE),
      param('name', 'The name of the new dimension.', { type: 'string' }),
      param('label', 'Its only label.', [{ type: 'number' }, { type: 'string' }]),
      param('type', 'Its type: bands, temporal or other (spatial and geometry dimensions cannot be added here).', { type: 'string', enum: ['bands', 'geometry', 'spatial', 'temporal', 'other'] }, { optional: true, default: DEFAULT_DIMENSION_TYPE }),
    ],
    { description: 'The data cube with one more dimension.', schema: RASTER_CUBE },
    { exceptions: exceptions({ DimensionExists: 'The data cube has a dimension of that name, or no spatial axis is left to add.' }) },
  ),
  evaluate(args) {
    const cube = cubeArg('add_dimension', args, 'data');
    const name = stringArg('add_dimension', args, 'name');
    const type = optionalString('add_dimension', args, 'type') ?? DEFAULT_DIMENSION_TYPE;
    const label = args.label;
    if (typeof label !== 'string' && typeof label !== 'number') throw invalid('add_dimension', 'label', 'must be a number or a string');
    if (cube.dims.some((d) => d.name === name)) throw new OpenEOError('DimensionExists', `add_dimension: the data cube already has a dimension "${name}"`);
    if (type === 'spatial') throw new OpenEOError('FeatureUnsupported', 'add_dimension: the data cubes here have x and y already, and a vertical axis is not supported');
    if (type === 'geometry') throw new OpenEOError('FeatureUnsupported', 'add_dimension: geometry dimensions (vector cubes) cannot be added to a raster cube');
    if (type !== 'bands' && type !== 'temporal' && type !== 'other') throw invalid('add_dimension', 'type', `must be bands, temporal or other, got ${type}`);
    requireNewName('add_dimension', cube, name);
    // Bands and time have text labels; other dimensions keep numbers as numbers.
    const added: CubeDimension = type === 'other' ? { name, type, labels: [label] } : { name, type, labels: [String(label)] };
    const dims = [added, ...cube.dims];
    return new CubeValue(mapChunks(cube, dims, (node) => ({ op: 'expand', dim: name, x: node }), `${cube.description} with dimension ${name}`));
  },
};

const dropDimension: ProcessImplementation = {
  definition: definition(
    'drop_dimension',
    'Drop a dimension',
    'Removes a dimension that has exactly one label left (reduce or filter it down first).',
    ['cubes'],
    [param('data', 'The data cube.', RASTER_CUBE), param('name', 'The dimension to remove.', { type: 'string' })],
    { description: 'The data cube without the dimension.', schema: RASTER_CUBE },
    { exceptions: exceptions({ DimensionLabelCountMismatch: 'The dimension has more than one label.', DimensionNotAvailable: 'The data cube has no dimension of that name.' }) },
  ),
  evaluate(args) {
    const cube = cubeArg('drop_dimension', args, 'data');
    const dim = dimensionOf('drop_dimension', cube, stringArg('drop_dimension', args, 'name'));
    const count = dim.type === 'spatial' ? (dim.axis === 'x' ? cube.grid.width : cube.grid.height) : dim.labels.length;
    if (count !== 1) throw new OpenEOError('DimensionLabelCountMismatch', `drop_dimension: dimension "${dim.name}" has ${count} labels; only a dimension with one label can be dropped`);
    if (dim.type === 'spatial') throw new OpenEOError('FeatureUnsupported', 'drop_dimension: the spatial dimensions of a raster cube stay');
    const dims = cube.dims.filter((d) => d !== dim);
    return new CubeValue(mapChunks(cube, dims, (node) => ({ op: 'select', dim: dim.name, index: 0, x: node }), `${cube.description} without ${dim.name}`));
  },
};

const renameDimension: ProcessImplementation = {
  definition: definition(
    'rename_dimension',
    'Rename a dimension',
    'Gives a dimension another name; its type, labels and values stay.',
    ['cubes'],
    [param('data', 'The data cube.', RASTER_CUBE), param('source', 'The current name.', { type: 'string' }), param('target', 'The new name, not yet used in the cube.', { type: 'string' })],
    { description: 'The data cube with the dimension renamed.', schema: RASTER_CUBE },
    { exceptions: exceptions({ DimensionNotAvailable: 'The data cube has no dimension named `source`.', DimensionExists: 'The data cube already has a dimension named `target`.' }) },
  ),
  evaluate(args) {
    const cube = cubeArg('rename_dimension', args, 'data');
    const dim = dimensionOf('rename_dimension', cube, stringArg('rename_dimension', args, 'source'));
    const target = stringArg('rename_dimension', args, 'target');
    if (target === dim.name) return new CubeValue(cube);
    if (cube.dims.some((d) => d.name === target)) throw new OpenEOError('DimensionExists', `rename_dimension: the data cube already has a dimension "${target}"`);
    const dims = cube.dims.map((d) => (d === dim ? { ...d, name: target } : d));
    const description = `${cube.description}, ${dim.name} renamed to ${target}`;
    // Spatial dimensions are y and x in every chunk array; only their metadata changes.
    if (dim.type === 'spatial') return new CubeValue(relabelled(cube, dims, description));
    requireNewName('rename_dimension', cube, target);
    const renamed = relabelled(cube, dims, description);
    return new CubeValue({
      ...renamed,
      chunk(coord) {
        const program = cube.chunk(coord);
        return { node: { op: 'rename', from: dim.name, to: target, x: program.node }, inputs: program.inputs };
      },
    });
  },
};

const LABEL_LIST = { type: 'array', uniqueItems: true, items: { type: ['number', 'string'] } };

const renameLabels: ProcessImplementation = {
  definition: definition(
    'rename_labels',
    'Rename labels',
    'Renames labels of a dimension: each `source` label becomes the `target` label at the same position. Without `source`, labels 0, 1, 2, … become the targets in turn. Values and their order stay.',
    ['cubes'],
    [
      param('data', 'The data cube.', RASTER_CUBE),
      param('dimension', 'The dimension whose labels to rename.', { type: 'string' }),
      param('target', 'The new labels; none may remain a label of another position.', LABEL_LIST),
      param('source', 'The labels to rename, as many as `target`; empty when the labels are 0, 1, 2, ….', LABEL_LIST, { optional: true, default: [] }),
    ],
    { description: 'The data cube with renamed labels.', schema: RASTER_CUBE },
    {
      exceptions: exceptions({
        LabelsNotEnumerated: 'No source labels were given, but the labels are not 0, 1, 2, ….',
        LabelMismatch: 'Source and target differ in length.',
        LabelNotAvailable: 'A source label is not a label of the dimension.',
        LabelExists: 'A target label would occur twice in the dimension.',
      }),
    },
  ),
  evaluate(args) {
    const cube = cubeArg('rename_labels', args, 'data');
    const dim = dimensionOf('rename_labels', cube, stringArg('rename_labels', args, 'dimension'));
    const target = labelList('target', args.target);
    const source = args.source === undefined || args.source === null ? [] : labelList('source', args.source);
    if (dim.type === 'spatial') throw new OpenEOError('FeatureUnsupported', 'rename_labels: spatial labels are coordinates of the grid and cannot be renamed');
    const labels = dim.labels.slice() as (string | number)[];
    if (source.length === 0) {
      if (!enumerated(labels)) throw new OpenEOError('LabelsNotEnumerated', `rename_labels: the labels of "${dim.name}" are not 0, 1, 2, …; say which to rename with "source"`);
      if (target.length > labels.length) throw new OpenEOError('LabelMismatch', `rename_labels: ${target.length} target labels for ${labels.length} labels of "${dim.name}"`);
      target.forEach((label, i) => (labels[i] = label));
    } else {
      if (source.length !== target.length) throw new OpenEOError('LabelMismatch', `rename_labels: ${source.length} source labels but ${target.length} target labels`);
      source.forEach((label, i) => {
        const at = dim.labels.findIndex((l) => sameLabel(l, label));
        if (at < 0) throw new OpenEOError('LabelNotAvailable', `rename_labels: "${String(label)}" is not a label of "${dim.name}" (labels: ${dim.labels.join(', ')})`);
        labels[at] = target[i]!;
      });
    }
    const duplicate = labels.find((l, i) => labels.findIndex((m) => sameLabel(l, m)) !== i);
    if (duplicate !== undefined) throw new OpenEOError('LabelExists', `rename_labels: "${String(duplicate)}" would be a label of "${dim.name}" twice`);
    const dims = cube.dims.map((d) => (d === dim ? withLabels(dim, labels) : d));
    return new CubeValue(relabelled(cube, dims, `${cube.description}, ${dim.name} relabelled`));
  },
};

function labelList(name: string, value: Value | undefined): (string | number)[] {
  const list = arrayArg('rename_labels', { [name]: value ?? null }, name);
  if (!list.every((v) => typeof v === 'string' || typeof v === 'number')) throw invalid('rename_labels', name, 'must be an array of numbers and strings');
  return list as (string | number)[];
}

const dimensionLabels: ProcessImplementation = {
  definition: definition(
    'dimension_labels',
    'Labels of a dimension',
    'Lists the labels of a dimension in their order: band names, dates and times, pixel-centre coordinates for x and y.',
    ['cubes'],
    [param('data', 'The data cube.', RASTER_CUBE), param('dimension', 'The dimension.', { type: 'string' })],
    { description: 'The labels.', schema: { type: 'array', items: { type: ['number', 'string'] } } },
    { exceptions: exceptions({ DimensionNotAvailable: 'The data cube has no dimension of that name.' }) },
  ),
  evaluate(args) {
    const cube = cubeArg('dimension_labels', args, 'data');
    const dim = dimensionOf('dimension_labels', cube, stringArg('dimension_labels', args, 'dimension'));
    if (dim.type === 'spatial') return spatialLabels(cube, dim.axis);
    return [...dim.labels];
  },
};

export const DIMENSION_PROCESSES: ProcessImplementation[] = [addDimension, dropDimension, renameDimension, renameLabels, dimensionLabels];
