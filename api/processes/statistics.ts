import { OpenEOError } from '../../common/errors.js';
import { quantileReducer, type Reducer } from '../../common/ir.js';
import type { Value } from '../compiler/values.js';
import { arrayArg, booleanArg, invalid, numberOrNull } from './arguments.js';
import { BOOLEAN, definition, exceptions, NUMBER_ARRAY, NUMBER_OR_NULL, optionalParam, param } from './definition.js';
import { pixelSeries, reduceSeries, requirePlain } from './symbolic.js';
import type { ProcessImplementation } from './types.js';

/**
 * Statistics over arrays of numbers. No-data (null) is skipped by default; with
 * `ignore_nodata: false` any no-data makes the outcome no-data. NaN is a number, not no-data:
 * it is never skipped and spreads into the outcome. Inside a reducer callback the same
 * statistics reduce the pixel series along the reduced dimension.
 */

const DEFAULT_IGNORE_NODATA = true;

const IGNORE_NODATA = optionalParam('ignore_nodata', 'Skip no-data values (true), or give no-data as soon as one is present (false).', BOOLEAN, DEFAULT_IGNORE_NODATA);
const NUMBERS = param('data', 'The numbers.', NUMBER_ARRAY);

/** The numbers of `data` and whether no-data was among them. */
function numbersOf(process: string, data: Value[]): { numbers: number[]; sawNodata: boolean } {
  const numbers: number[] = [];
  let sawNodata = false;
  data.forEach((value, i) => {
    const n = numberOrNull(process, `data[${i}]`, value);
    if (n === null) sawNodata = true;
    else numbers.push(n);
  });
  return { numbers, sawNodata };
}

function sum(values: number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

function product(values: number[]): number {
  let total = 1;
  for (const v of values) total *= v;
  return total;
}

function minimum(values: number[]): number {
  if (values.some(Number.isNaN)) return NaN;
  let out = Infinity;
  for (const v of values) if (v < out) out = v;
  return out;
}

function maximum(values: number[]): number {
  if (values.some(Number.isNaN)) return NaN;
  let out = -Infinity;
  for (const v of values) if (v > out) out = v;
  return out;
}

function ascending(values: number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

function median(values: number[]): number {
  if (values.some(Number.isNaN)) return NaN;
  const sorted = ascending(values);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Sample variance (n − 1 in the denominator); undefined, hence no-data, below two values. */
function variance(values: number[]): number | null {
  if (values.length < 2) return null;
  const mean = sum(values) / values.length;
  let squares = 0;
  for (const v of values) squares += (v - mean) ** 2;
  return squares / (values.length - 1);
}

function standardDeviation(values: number[]): number | null {
  const v = variance(values);
  return v === null ? null : Math.sqrt(v);
}

/** Type 7 sample quantile of sorted values; the workers' reduce kernel computes it the same way. */
export function quantileOf(sorted: readonly number[], probability: number): number {
  const h = (sorted.length - 1) * probability;
  const lower = Math.floor(h);
  const weight = h - lower;
  const below = sorted[lower]!;
  if (weight === 0) return below;
  return (1 - weight) * below + weight * sorted[lower + 1]!;
}

function statistic(id: string, reducer: Reducer, categories: string[], compute: (values: number[]) => number | null, summary: string, description: string): ProcessImplementation {
  return {
    definition: definition(id, summary, description, categories, [NUMBERS, IGNORE_NODATA], { description: 'The statistic, or null when no number is left to compute it from.', schema: NUMBER_OR_NULL }),
    evaluate(args) {
      const ignoreNodata = booleanArg(id, args, 'ignore_nodata', DEFAULT_IGNORE_NODATA);
      const series = pixelSeries(id, args.data);
      if (series) return reduceSeries(series, reducer, ignoreNodata);
      const { numbers, sawNodata } = numbersOf(id, arrayArg(id, args, 'data'));
      if ((sawNodata && !ignoreNodata) || numbers.length === 0) return null;
      return compute(numbers);
    },
  };
}

/** The probabilities `quantiles` computes: given as a list, or as a number q of equal intervals. */
function probabilitiesOf(args: Record<string, Value>): number[] {
  const given = args.probabilities ?? null;
  const q = args.q ?? null;
  if (given !== null && q !== null) throw new OpenEOError('QuantilesParameterConflict', 'quantiles: give either "probabilities" or the deprecated "q", not both');
  const spec = given ?? q;
  if (spec === null) throw new OpenEOError('QuantilesParameterMissing', 'quantiles: "probabilities" is required');
  const name = given !== null ? 'probabilities' : 'q';
  if (typeof spec === 'number') {
    if (!Number.isInteger(spec) || spec < 2) throw invalid('quantiles', name, `must be an integer of at least 2 intervals, got ${spec}`);
    return Array.from({ length: spec - 1 }, (_, i) => (i + 1) / spec);
  }
  if (!Array.isArray(spec) || !spec.every((p): p is number => typeof p === 'number' && p >= 0 && p <= 1)) {
    throw invalid('quantiles', name, 'must be a list of probabilities from 0 to 1, or a number of intervals');
  }
  for (let i = 1; i < spec.length; i++) {
    if (spec[i]! <= spec[i - 1]!) throw new OpenEOError('AscendingProbabilitiesRequired', `quantiles: probabilities must be given in ascending order without repeats, but ${spec[i]} follows ${spec[i - 1]}`);
  }
  return spec;
}

const quantiles: ProcessImplementation = {
  definition: definition(
    'quantiles',
    'Quantiles',
    'Cut points of the sorted numbers at the given probabilities, interpolating linearly between neighbouring values (Hyndman and Fan type 7). Instead of probabilities, a number q of equal intervals asks for its q − 1 inner cut points. Inside a reducer callback one probability can be computed per call.',
    ['math > statistics'],
    [
      NUMBERS,
      param('probabilities', 'Probabilities from 0 to 1 in ascending order, or the number of equal intervals.', [
        { type: 'array', uniqueItems: true, items: { type: 'number', minimum: 0, maximum: 1 } },
        { type: 'integer', minimum: 2 },
      ], { optional: true }),
      param('q', 'Number of equal intervals; superseded by passing an integer as `probabilities`.', { type: 'integer', minimum: 2 }, { optional: true, deprecated: true }),
      { ...IGNORE_NODATA, description: 'Skip no-data values (true), or make every quantile no-data as soon as one is present (false).' },
    ],
    { description: 'One value per probability; null where nothing is left to compute from.', schema: { type: 'array', items: { type: ['number', 'null'] } } },
    {
      exceptions: exceptions({
        QuantilesParameterMissing: 'No probabilities were given.',
        QuantilesParameterConflict: 'Probabilities were given both as `probabilities` and as `q`.',
        AscendingProbabilitiesRequired: 'The probabilities are not in ascending order.',
      }),
    },
  ),
  evaluate(args) {
    const probabilities = probabilitiesOf(args);
    const ignoreNodata = booleanArg('quantiles', args, 'ignore_nodata', DEFAULT_IGNORE_NODATA);
    const series = pixelSeries('quantiles', args.data);
    // On pixel series: one reduction per probability (apply_dimension stacks them into a dimension).
    if (series) return probabilities.map((p) => reduceSeries(series, quantileReducer(p), ignoreNodata));
    const { numbers, sawNodata } = numbersOf('quantiles', arrayArg('quantiles', args, 'data'));
    if ((sawNodata && !ignoreNodata) || numbers.length === 0) return probabilities.map(() => null);
    if (numbers.some(Number.isNaN)) return probabilities.map(() => NaN);
    const sorted = ascending(numbers);
    return probabilities.map((p) => quantileOf(sorted, p));
  },
};

const extrema: ProcessImplementation = {
  definition: definition(
    'extrema',
    'Minimum and maximum',
    'The smallest and the largest number in one pass, as a pair [min, max]. Both are null when no number is left.',
    ['math > statistics'],
    [NUMBERS, { ...IGNORE_NODATA, description: 'Skip no-data values (true), or make both results no-data as soon as one is present (false).' }],
    {
      description: 'The pair [minimum, maximum].',
      schema: [
        { type: 'array', minItems: 2, maxItems: 2, items: { type: 'number' } },
        { type: 'array', minItems: 2, maxItems: 2, items: { type: 'null' } },
      ],
    },
  ),
  evaluate(args) {
    const ignoreNodata = booleanArg('extrema', args, 'ignore_nodata', DEFAULT_IGNORE_NODATA);
    const series = pixelSeries('extrema', args.data);
    if (series) return [reduceSeries(series, 'min', ignoreNodata), reduceSeries(series, 'max', ignoreNodata)];
    const { numbers, sawNodata } = numbersOf('extrema', arrayArg('extrema', args, 'data'));
    if ((sawNodata && !ignoreNodata) || numbers.length === 0) return [null, null];
    return [minimum(numbers), maximum(numbers)];
  },
};

/** A running statistic: each element is the statistic of itself and all before it. */
function cumulative(id: string, step: (total: number, value: number) => number, summary: string, description: string): ProcessImplementation {
  return {
    definition: definition(
      id,
      summary,
      description,
      ['math > cumulative'],
      [NUMBERS, { ...IGNORE_NODATA, description: 'Skip no-data values, leaving them in place (true), or make everything from the first no-data on no-data (false).' }],
      { description: 'An array as long as `data`.', schema: { type: 'array', items: { type: ['number', 'null'] } } },
      { experimental: true },
    ),
    evaluate(args) {
      requirePlain(id, args.data);
      const ignoreNodata = booleanArg(id, args, 'ignore_nodata', DEFAULT_IGNORE_NODATA);
      const data = arrayArg(id, args, 'data');
      const out: (number | null)[] = [];
      let total: number | null = null;
      let stopped = false;
      data.forEach((value, i) => {
        const n = numberOrNull(id, `data[${i}]`, value);
        if (n === null && !ignoreNodata) stopped = true;
        if (n === null || stopped) {
          out.push(null);
          return;
        }
        total = total === null ? n : step(total, n);
        out.push(total);
      });
      return out;
    },
  };
}

const MEAN_CATEGORIES = ['math > statistics', 'reducer'];

export const STATISTICS_PROCESSES: ProcessImplementation[] = [
  statistic('mean', 'mean', MEAN_CATEGORIES, (v) => sum(v) / v.length, 'Arithmetic mean', 'The sum of the numbers divided by their count.'),
  statistic('median', 'median', MEAN_CATEGORIES, median, 'Median', 'The middle of the sorted numbers; for an even count, halfway between the two middle ones.'),
  statistic('min', 'min', ['math', 'math > statistics', 'reducer'], minimum, 'Minimum', 'The smallest of the numbers.'),
  statistic('max', 'max', ['math', 'math > statistics', 'reducer'], maximum, 'Maximum', 'The largest of the numbers.'),
  statistic('sum', 'sum', ['math', 'reducer'], sum, 'Sum', 'All numbers added up.'),
  statistic('product', 'product', ['math', 'reducer'], product, 'Product', 'All numbers multiplied together.'),
  statistic('variance', 'variance', MEAN_CATEGORIES, variance, 'Sample variance', 'The mean squared distance from the mean, divided by n − 1 (the unbiased sample estimate). Fewer than two numbers give no-data.'),
  statistic('sd', 'sd', MEAN_CATEGORIES, standardDeviation, 'Sample standard deviation', 'The square root of the sample variance: how far the numbers typically lie from their mean. Fewer than two numbers give no-data.'),
  quantiles,
  extrema,
  cumulative('cummax', Math.max, 'Running maximum', 'For each position, the largest number up to and including it.'),
  cumulative('cummin', Math.min, 'Running minimum', 'For each position, the smallest number up to and including it.'),
  cumulative('cumsum', (a, b) => a + b, 'Running sum', 'For each position, the sum of the numbers up to and including it.'),
  cumulative('cumproduct', (a, b) => a * b, 'Running product', 'For each position, the product of the numbers up to and including it.'),
];
