import { OpenEOError } from '../../common/errors.js';
import { isCallbackValue, isSymbolic, SymbolicValue, type Value } from '../compiler/values.js';
import { arrayArg, booleanArg, integerArg, invalid } from './arguments.js';
import { valuesEqual } from './comparison.js';
import { ANY, ANY_ARRAY, BOOLEAN, COMPARABLE, definition, exceptions, optionalParam, param } from './definition.js';
import { type Label, labelArray, labelsOf } from './labeled-array.js';
import { binaryNode, constantNode, notInCallback, type PixelSeries, pixelSeries, reduceSeries, requirePlain, unaryNode } from './symbolic.js';
import type { ProcessImplementation } from './types.js';

/**
 * Processes on arrays, labelled or not. Inside a reducer callback `data` is the series of pixel
 * values along the reduced dimension: array_element, first and last then select or reduce
 * along it; the others work on plain arrays only.
 */

const DEFAULT_RETURN_NODATA = false;
const DEFAULT_IGNORE_NODATA = true;
const DEFAULT_REPEAT = 1;
const DEFAULT_REVERSE = false;
/** array_append labels the new element of a labelled array by its position unless told otherwise. */
const DEFAULT_APPEND_LABEL = null;
/** count counts the valid elements (see is_valid) unless given a condition. */
const DEFAULT_CONDITION = null;
const DEFAULT_ASCENDING = true;
/** Where `sort` and `order` put no-data: null drops it, true puts it last, false first. */
const DEFAULT_NODATA_PLACEMENT = null;

/** A plain array argument; pixel series have no array form outside the chunk program. */
function plainArray(process: string, args: Record<string, Value>, name: string): Value[] {
  if (isSymbolic(args[name])) throw notInCallback(process);
  return arrayArg(process, args, name);
}

function notAvailable(message: string): OpenEOError {
  return new OpenEOError('ArrayElementNotAvailable', `array_element: ${message}`);
}

const arrayElement: ProcessImplementation = {
  definition: definition(
    'array_element',
    'Pick one element',
    'Returns the element at a zero-based `index`, or the one carrying `label` in a labelled array (such as the bands of a pixel). Exactly one of the two must be given.',
    ['arrays', 'reducer'],
    [
      param('data', 'The array.', ANY_ARRAY),
      param('index', 'Zero-based position of the element.', { type: 'integer', minimum: 0 }, { optional: true }),
      param('label', 'Label of the element; the array must be labelled.', [{ type: 'number' }, { type: 'string' }], { optional: true }),
      optionalParam('return_nodata', 'Give no-data instead of failing when there is no such element.', BOOLEAN, DEFAULT_RETURN_NODATA),
    ],
    { description: 'The element.', schema: ANY },
    {
      exceptions: exceptions({
        ArrayElementNotAvailable: 'There is no element at this index or with this label.',
        ArrayElementParameterMissing: 'Neither an index nor a label was given.',
        ArrayElementParameterConflict: 'Both an index and a label were given.',
        ArrayNotLabeled: 'A label was given, but the array has no labels.',
      }),
    },
  ),
  evaluate(args) {
    const hasIndex = args.index !== undefined && args.index !== null;
    const hasLabel = args.label !== undefined && args.label !== null;
    if (hasIndex && hasLabel) throw new OpenEOError('ArrayElementParameterConflict', 'array_element: give either "index" or "label", not both');
    if (!hasIndex && !hasLabel) throw new OpenEOError('ArrayElementParameterMissing', 'array_element: give "index" or "label"');
    const returnNodata = booleanArg('array_element', args, 'return_nodata', DEFAULT_RETURN_NODATA);
    const data = args.data ?? null;
    const series = isSymbolic(data) ? pixelSeries('array_element', data) : null;
    if (!series && !Array.isArray(data)) throw invalid('array_element', 'data', 'must be an array');
    const labels = series ? series.labels : Array.isArray(data) ? labelsOf(data) : null;
    let position: number;
    if (hasLabel) {
      const label = args.label;
      if (typeof label !== 'string' && typeof label !== 'number') throw invalid('array_element', 'label', 'must be a string or a number');
      if (!labels) throw new OpenEOError('ArrayNotLabeled', 'array_element: the array has no labels; use "index" instead');
      position = labels.indexOf(label);
      if (position < 0) {
        if (returnNodata) return null;
        throw notAvailable(`no element is labelled ${JSON.stringify(label)} (labels: ${labels.map((l) => JSON.stringify(l)).join(', ')})`);
      }
    } else {
      const index = args.index;
      if (typeof index !== 'number' || !Number.isInteger(index)) throw invalid('array_element', 'index', 'must be an integer');
      position = index;
    }
    // A pixel series without labels has a length only the chunk knows; the worker checks it.
    const length = series ? (series.labels?.length ?? null) : (data as Value[]).length;
    if (position < 0 || (length !== null && position >= length)) {
      if (returnNodata) return null;
      throw notAvailable(`index ${position} is outside the ${length ?? 0} elements`);
    }
    if (series) return new SymbolicValue({ op: 'select', dim: series.dim, index: position, x: series.node }, series.dims.filter((d) => d !== series.dim));
    return (data as Value[])[position]!;
  },
};

const arrayCreate: ProcessImplementation = {
  definition: definition(
    'array_create',
    'Build an array',
    'Builds an array from the given elements, repeated `repeat` times one after the other.',
    ['arrays'],
    [optionalParam('data', 'The elements; none by default.', ANY_ARRAY, []), optionalParam('repeat', 'How many copies of the elements to chain.', { type: 'integer', minimum: 1 }, DEFAULT_REPEAT)],
    { description: 'The new array.', schema: ANY_ARRAY },
  ),
  evaluate(args) {
    const data = args.data === undefined ? [] : plainArray('array_create', args, 'data');
    const repeat = args.repeat === undefined ? DEFAULT_REPEAT : integerArg('array_create', args, 'repeat');
    if (repeat < 1) throw invalid('array_create', 'repeat', `must be at least 1, got ${repeat}`);
    return Array.from({ length: repeat }, () => data).flat(1);
  },
};

const arrayConcat: ProcessImplementation = {
  definition: definition(
    'array_concat',
    'Join two arrays',
    'The elements of `array1` followed by those of `array2`. The result is labelled only when both arrays are, and then no label may occur in both.',
    ['arrays'],
    [param('array1', 'The array that comes first.', ANY_ARRAY), param('array2', 'The array appended to it.', ANY_ARRAY)],
    { description: 'The joined array.', schema: ANY_ARRAY },
    { exceptions: exceptions({ ArrayLabelConflict: 'Both arrays carry a common label.' }) },
  ),
  evaluate(args) {
    const first = plainArray('array_concat', args, 'array1');
    const second = plainArray('array_concat', args, 'array2');
    const joined = [...first, ...second];
    const firstLabels = labelsOf(first);
    const secondLabels = labelsOf(second);
    if (!firstLabels || !secondLabels) return joined;
    const shared = secondLabels.filter((l) => firstLabels.includes(l));
    if (shared.length > 0) throw new OpenEOError('ArrayLabelConflict', `array_concat: both arrays have the label(s) ${shared.map((l) => JSON.stringify(l)).join(', ')}`);
    return labelArray(joined, [...firstLabels, ...secondLabels]);
  },
};

const arrayAppend: ProcessImplementation = {
  definition: definition(
    'array_append',
    'Add an element at the end',
    'A copy of `data` with `value` added after its last element. A labelled array also gets a label for the new element: `label` if given, otherwise the new position.',
    ['arrays'],
    [
      param('data', 'The array to extend.', ANY_ARRAY),
      param('value', 'The element to add.', ANY),
      optionalParam('label', 'Label of the new element; only for labelled arrays.', [{ type: 'number' }, { type: 'string' }, { type: 'null' }], DEFAULT_APPEND_LABEL),
    ],
    { description: 'The extended array.', schema: ANY_ARRAY },
    {
      exceptions: exceptions({
        LabelExists: 'The array already has an element with this label.',
        ArrayNotLabeled: 'A label was given, but the array has no labels.',
      }),
    },
  ),
  evaluate(args) {
    const data = plainArray('array_append', args, 'data');
    const extended = [...data, args.value ?? null];
    const labels = labelsOf(data);
    const label = args.label ?? DEFAULT_APPEND_LABEL;
    if (label !== null && typeof label !== 'string' && typeof label !== 'number') throw invalid('array_append', 'label', 'must be a string, a number or null');
    if (!labels) {
      if (label !== null) throw new OpenEOError('ArrayNotLabeled', 'array_append: the array has no labels, so the new element cannot have one');
      return extended;
    }
    const newLabel = label ?? data.length;
    if (labels.includes(newLabel)) throw new OpenEOError('LabelExists', `array_append: the array already has the label ${JSON.stringify(newLabel)}`);
    return labelArray(extended, [...labels, newLabel]);
  },
};

/** Positions of `value` in `data` by openEO equality; no-data and non-scalar values match nothing. */
function positionsOf(data: Value[], value: Value): number[] {
  if (value === null || typeof value === 'object') return [];
  return data.flatMap((element, i) => (valuesEqual(element, value) ? [i] : []));
}

const arrayContains: ProcessImplementation = {
  definition: definition(
    'array_contains',
    'Array holds a value',
    'Whether `value` occurs in `data`, by the rules of `eq`: types must match and no-data matches nothing, so looking for null always gives false.',
    ['arrays', 'comparison', 'reducer'],
    [param('data', 'The array to search.', ANY_ARRAY), param('value', 'The value to look for.', COMPARABLE)],
    { description: 'Whether the value was found.', schema: BOOLEAN },
  ),
  evaluate(args) {
    requirePlain('array_contains', args.value);
    return positionsOf(plainArray('array_contains', args, 'data'), args.value ?? null).length > 0;
  },
};

const arrayFind: ProcessImplementation = {
  definition: definition(
    'array_find',
    'Position of a value',
    'The zero-based position of the first occurrence of `value` in `data` (the last with `reverse`), by the rules of `eq`. Null when it does not occur; arrays, objects and no-data are never found.',
    ['arrays', 'reducer'],
    [param('data', 'The array to search.', ANY_ARRAY), param('value', 'The value to look for.', ANY), optionalParam('reverse', 'Report the last occurrence instead of the first.', BOOLEAN, DEFAULT_REVERSE)],
    { description: 'The position, or null when not found.', schema: [{ type: 'null' }, { type: 'integer', minimum: 0 }] },
  ),
  evaluate(args) {
    requirePlain('array_find', args.value);
    const positions = positionsOf(plainArray('array_find', args, 'data'), args.value ?? null);
    const reverse = booleanArg('array_find', args, 'reverse', DEFAULT_REVERSE);
    return (reverse ? positions.at(-1) : positions[0]) ?? null;
  },
};

const arrayLabels: ProcessImplementation = {
  definition: definition(
    'array_labels',
    'Labels of an array',
    'The labels of a labelled array (e.g. band names); for an array without labels, its positions 0, 1, 2 …',
    ['arrays'],
    [param('data', 'The array.', { type: 'array' })],
    { description: 'The labels, in the order of the elements.', schema: { type: 'array', items: { type: ['number', 'string'] } } },
  ),
  evaluate(args) {
    const data = args.data;
    if (isSymbolic(data)) {
      if (!data.labels) throw notInCallback('array_labels');
      return [...data.labels];
    }
    const array = arrayArg('array_labels', args, 'data');
    return [...(labelsOf(array) ?? array.map((_, i) => i))];
  },
};

const SORTABLE_ITEMS = {
  anyOf: [{ type: 'number' }, { type: 'null' }, { type: 'string', format: 'date-time', subtype: 'date-time' }, { type: 'string', format: 'date', subtype: 'date' }],
};
const SORTABLE = { type: 'array', items: SORTABLE_ITEMS };

/** Ascending order of numbers, then of dates and times; NaN after every other number. */
function compareSortable(a: Value, b: Value): number {
  if (typeof a === 'number' && typeof b === 'number') {
    if (Number.isNaN(a) || Number.isNaN(b)) return Number(Number.isNaN(a)) - Number(Number.isNaN(b));
    return a - b;
  }
  if (typeof a === 'string' && typeof b === 'string') {
    // Instants, not text: "2020-01-01T01:00:00+02:00" comes before "2020-01-01T00:00:00Z".
    const difference = Date.parse(a) - Date.parse(b);
    return Number.isNaN(difference) ? a.localeCompare(b) : difference;
  }
  return typeof a === 'number' ? -1 : 1;
}

function sortableValues(process: string, args: Record<string, Value>): Value[] {
  const data = plainArray(process, args, 'data');
  data.forEach((v, i) => {
    if (v !== null && typeof v !== 'number' && typeof v !== 'string') throw invalid(process, `data[${i}]`, 'must be a number, a date-time or null');
  });
  return data;
}

/** The permutation that sorts `data`; ties keep their original order. */
function permutation(process: string, args: Record<string, Value>): { data: Value[]; positions: number[] } {
  const data = sortableValues(process, args);
  const ascending = booleanArg(process, args, 'asc', DEFAULT_ASCENDING);
  const placement = args.nodata ?? DEFAULT_NODATA_PLACEMENT;
  if (placement !== null && typeof placement !== 'boolean') throw invalid(process, 'nodata', 'must be true, false or null');
  const present = data.flatMap((v, i) => (v === null ? [] : [i]));
  const missing = data.flatMap((v, i) => (v === null ? [i] : []));
  const direction = ascending ? 1 : -1;
  present.sort((i, j) => direction * compareSortable(data[i]!, data[j]!));
  const positions = placement === null ? present : placement ? [...present, ...missing] : [...missing, ...present];
  return { data, positions };
}

const sortingParameters = (what: string) => [
  param('data', `The ${what}.`, SORTABLE),
  optionalParam('asc', 'Ascending order (smallest first) unless set to false.', BOOLEAN, DEFAULT_ASCENDING),
  optionalParam('nodata', 'Where no-data goes: dropped (null), at the end (true) or at the start (false).', { type: ['boolean', 'null'] }, DEFAULT_NODATA_PLACEMENT),
];

const order: ProcessImplementation = {
  definition: definition(
    'order',
    'Sorting permutation',
    'The zero-based positions of the elements of `data` in sorted order, so that `rearrange` with them sorts the array. Date-times are ordered as instants, not as text. Equal values keep their original order.',
    ['arrays', 'sorting'],
    sortingParameters('values to rank'),
    { description: 'Positions into `data`.', schema: { type: 'array', items: { type: 'integer', minimum: 0 } } },
  ),
  evaluate: (args) => permutation('order', args).positions,
};

const sort: ProcessImplementation = {
  definition: definition(
    'sort',
    'Sort an array',
    'The numbers or date-times of `data` in ascending or descending order. Date-times are ordered as instants, not as text.',
    ['arrays', 'sorting'],
    sortingParameters('values to sort'),
    { description: 'The sorted values.', schema: SORTABLE },
  ),
  evaluate(args) {
    const { data, positions } = permutation('sort', args);
    return positions.map((i) => data[i]!);
  },
};

const rearrange: ProcessImplementation = {
  definition: definition(
    'rearrange',
    'Reorder an array',
    'Builds a new array from the elements of `data` at the positions listed in `order`, e.g. those computed by `order`. Positions may be left out or repeated; labels move with their elements.',
    ['arrays', 'sorting'],
    [param('data', 'The array to reorder.', ANY_ARRAY), param('order', 'Zero-based positions into `data`.', { type: 'array', items: { type: 'integer', minimum: 0 } })],
    { description: 'The reordered array.', schema: ANY_ARRAY },
  ),
  evaluate(args) {
    const data = plainArray('rearrange', args, 'data');
    const positions = arrayArg('rearrange', args, 'order');
    positions.forEach((p, i) => {
      if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p >= data.length) throw invalid('rearrange', `order[${i}]`, `must be a position from 0 to ${data.length - 1}`);
    });
    const reordered = (positions as number[]).map((p) => data[p]!);
    const labels = labelsOf(data);
    return labels ? labelArray(reordered, (positions as number[]).map((p) => labels[p] as Label)) : reordered;
  },
};

function isValid(value: Value): boolean {
  return value !== null && (typeof value !== 'number' || Number.isFinite(value));
}

const count: ProcessImplementation = {
  definition: definition(
    'count',
    'Count elements',
    'How many elements of `data` satisfy `condition`. Without a condition the valid elements are counted (not no-data, NaN or ±∞, as `is_valid` decides); `true` counts every element.',
    ['arrays', 'math > statistics', 'reducer'],
    [
      param('data', 'The elements.', ANY_ARRAY),
      optionalParam(
        'condition',
        'A process deciding per element whether it counts, `true` to count all elements, or null to count the valid ones.',
        [
          {
            type: 'object',
            subtype: 'process-graph',
            parameters: [
              { name: 'x', description: 'The element.', schema: {} },
              { name: 'context', description: 'The `context` given to count.', schema: {}, optional: true, default: null },
            ],
            returns: { description: 'Whether the element counts.', schema: { type: 'boolean' } },
          },
          { type: 'boolean', const: true },
          { type: 'null' },
        ],
        DEFAULT_CONDITION,
      ),
      optionalParam('context', 'Passed on to the condition.', ANY, null),
    ],
    { description: 'The number of elements counted.', schema: { type: 'number' } },
  ),
  async evaluate(args, context) {
    const condition = args.condition ?? DEFAULT_CONDITION;
    if (condition !== null && condition !== true && !isCallbackValue(condition)) throw invalid('count', 'condition', 'must be a process, true or null');
    const extra = args.context ?? null;
    const series = pixelSeries('count', args.data);
    if (series) {
      if (condition === null) return reduceSeries(series, 'count', true);
      if (condition === true) return countSeriesElements(series);
      const outcome = await context.callCallback(condition, { x: new SymbolicValue(series.node, series.dims), context: extra });
      if (!isSymbolic(outcome)) return outcome === true ? countSeriesElements(series) : 0;
      // Unknown outcomes (no-data) do not count: they become 0 before summing.
      const counted = binaryNode('coalesce', outcome.node, constantNode(0));
      return reduceSeries({ ...series, node: counted, dims: outcome.dims }, 'sum', true);
    }
    const data = arrayArg('count', args, 'data');
    if (condition === null) return data.filter(isValid).length;
    if (condition === true) return data.length;
    let total = 0;
    for (const x of data) if ((await context.callCallback(condition, { x, context: extra })) === true) total++;
    return total;
  },
};

/** The number of elements of a pixel series: its label count, or counted per pixel. */
function countSeriesElements(series: PixelSeries): Value {
  return series.labels ? series.labels.length : reduceSeries({ ...series, node: unaryNode('is_nodata', series.node) }, 'count', true);
}

/** `first` or `last`: the element at one end, skipping no-data unless told not to. */
function endElement(id: 'first' | 'last', summary: string, description: string): ProcessImplementation {
  return {
    definition: definition(
      id,
      summary,
      description,
      ['arrays', 'reducer'],
      [param('data', 'The array.', ANY_ARRAY), optionalParam('ignore_nodata', 'Skip no-data values (true), or take the element at the end whatever it is (false).', BOOLEAN, DEFAULT_IGNORE_NODATA)],
      { description: 'The element, or null when there is none.', schema: ANY },
    ),
    evaluate(args) {
      const ignoreNodata = booleanArg(id, args, 'ignore_nodata', DEFAULT_IGNORE_NODATA);
      const series = pixelSeries(id, args.data);
      if (series) return reduceSeries(series, id, ignoreNodata);
      const data = arrayArg(id, args, 'data');
      const candidates = ignoreNodata ? data.filter((v) => v !== null) : data;
      return (id === 'first' ? candidates[0] : candidates.at(-1)) ?? null;
    },
  };
}

export const ARRAY_PROCESSES: ProcessImplementation[] = [
  arrayElement,
  arrayCreate,
  arrayConcat,
  arrayAppend,
  arrayContains,
  arrayFind,
  arrayLabels,
  order,
  sort,
  rearrange,
  count,
  endElement('first', 'First element', 'The first element of the array; by default the first that is not no-data.'),
  endElement('last', 'Last element', 'The last element of the array; by default the last that is not no-data.'),
];
