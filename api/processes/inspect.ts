import { nonSpatialDims } from '../compiler/cube.js';
import { encodeTaskArgs } from '../../common/task-args.js';
import { isCallbackValue, isCube, isSymbolic, isVectorCube, type Value } from '../compiler/values.js';
import { invalid, optionalString } from './arguments.js';
import { definition, param } from './definition.js';
import type { ProcessImplementation } from './types.js';

/**
 * inspect: writes what a value is into the job's log and passes it on. Cubes are computed only
 * later, so the log describes them (dimensions, labels, grid) rather than listing their values.
 */

const DEFAULT_MESSAGE = '';
const DEFAULT_CODE = 'User';
const DEFAULT_LEVEL = 'info';
const LEVELS = ['error', 'warning', 'info', 'debug'];
/** Characters of a plain value written to the log; the rest is cut. */
const MAX_LOGGED_CHARACTERS = 2_000;
/** Labels listed per dimension in a cube's summary. */
const MAX_LOGGED_LABELS = 10;

function labelsOf(labels: readonly (string | number)[]): string {
  const shown = labels.slice(0, MAX_LOGGED_LABELS).join(', ');
  return labels.length > MAX_LOGGED_LABELS ? `${shown}, … (${labels.length})` : shown;
}

/** A one-line summary of a value for the log. */
function summarize(value: Value): string {
  if (isCube(value)) {
    const { grid } = value.cube;
    const dims = nonSpatialDims(value.cube).map((d) => `${d.name} (${d.type}): ${labelsOf(d.labels)}`);
    return `data cube "${value.cube.description}": ${[...dims, `x, y: ${grid.width} x ${grid.height} pixels in EPSG:${grid.epsg}, origin ${grid.transform[0]}, ${grid.transform[3]}, pixel size ${grid.transform[1]} x ${grid.transform[5]}`].join('; ')}`;
  }
  if (isVectorCube(value)) return `vector data cube "${value.cube.description}": ${value.cube.dims.map((d) => `${d.name}: ${labelsOf(d.labels)}`).join('; ')}`;
  if (isSymbolic(value)) return `the values of each pixel, computed chunk by chunk (dimensions ${value.dims.join(', ')})`;
  if (isCallbackValue(value)) return 'a process';
  const text = encodeTaskArgs(value);
  return text.length > MAX_LOGGED_CHARACTERS ? `${text.slice(0, MAX_LOGGED_CHARACTERS)}…` : text;
}

export const inspectProcess: ProcessImplementation = {
  definition: definition(
    'inspect',
    'Log a value',
    'Writes a message and a description of the data to the job\'s log and returns the data untouched. Data cubes are described by their dimensions, labels and grid, not listed value by value.',
    ['development'],
    [
      param('data', 'The value to log and pass on.', {}),
      param('message', 'Text to log with it.', { type: 'string' }, { optional: true, default: DEFAULT_MESSAGE }),
      param('code', 'A tag to find the entry by.', { type: 'string' }, { optional: true, default: DEFAULT_CODE }),
      param('level', 'How severe the entry is.', { type: 'string', enum: LEVELS }, { optional: true, default: DEFAULT_LEVEL }),
    ],
    { description: 'The data, unchanged.', schema: {} },
  ),
  evaluate(args, context) {
    const data = args.data ?? null;
    const message = optionalString('inspect', args, 'message') ?? DEFAULT_MESSAGE;
    const code = optionalString('inspect', args, 'code') ?? DEFAULT_CODE;
    const level = optionalString('inspect', args, 'level') ?? DEFAULT_LEVEL;
    if (!LEVELS.includes(level)) throw invalid('inspect', 'level', `must be one of ${LEVELS.join(', ')}`);
    context.warnings.push(`inspect [${level}] ${code}${message ? `: ${message}` : ''} — ${summarize(data)}`);
    return data;
  },
};
