import { describeValue, type Value } from '../compiler/values.js';
import { arrayArg, booleanArg, invalid, stringArg } from './arguments.js';
import { BOOLEAN, BOOLEAN_OR_NULL, definition, optionalParam, param } from './definition.js';
import { requirePlain } from './symbolic.js';
import type { ProcessImplementation } from './types.js';

/** Processes on text. They work on plain values only: pixel values are numbers. */

const DEFAULT_CASE_SENSITIVE = true;
const DEFAULT_SEPARATOR = '';

/** Lower-casing both sides is enough for case-insensitive matching of letters like Ä/ä. */
function folded(text: string, caseSensitive: boolean): string {
  return caseSensitive ? text : text.toLowerCase();
}

function textTest(id: string, test: (text: string, pattern: string) => boolean, summary: string, description: string): ProcessImplementation {
  return {
    definition: definition(
      id,
      summary,
      description,
      ['texts', 'comparison'],
      [
        param('data', 'The text to search in.', { type: ['string', 'null'] }),
        param('pattern', 'The text to look for, taken literally.', { type: 'string' }),
        optionalParam('case_sensitive', 'Set to false to ignore upper and lower case.', BOOLEAN, DEFAULT_CASE_SENSITIVE),
      ],
      { description: 'Whether the text matches, or null when `data` is null.', schema: BOOLEAN_OR_NULL },
    ),
    evaluate(args) {
      requirePlain(id, args.data, args.pattern);
      const pattern = stringArg(id, args, 'pattern');
      const data = args.data ?? null;
      if (data === null) return null;
      if (typeof data !== 'string') throw invalid(id, 'data', `must be a string or null, got ${describeValue(data)}`);
      const caseSensitive = booleanArg(id, args, 'case_sensitive', DEFAULT_CASE_SENSITIVE);
      return test(folded(data, caseSensitive), folded(pattern, caseSensitive));
    },
  };
}

/** The text form of a scalar: numbers as JavaScript writes them (1, -1.5), booleans and null in lower case. */
function textOf(process: string, name: string, value: Value): string {
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw invalid(process, name, `must be a string, number, boolean or null, got ${describeValue(value)}`);
}

const textConcat: ProcessImplementation = {
  definition: definition(
    'text_concat',
    'Join texts',
    'Joins the elements of `data` into one text with `separator` between neighbours. Numbers, booleans and null are written out first (1, -1.5, true, null).',
    ['texts'],
    [
      param('data', 'The elements to join.', { type: 'array', items: { type: ['string', 'number', 'boolean', 'null'] } }),
      optionalParam('separator', 'Put between each two elements; written out like the elements.', { type: ['string', 'number', 'boolean', 'null'] }, DEFAULT_SEPARATOR),
    ],
    { description: 'The joined text.', schema: { type: 'string' } },
  ),
  evaluate(args) {
    requirePlain('text_concat', args.data, args.separator);
    const separator = args.separator === undefined ? DEFAULT_SEPARATOR : textOf('text_concat', 'separator', args.separator);
    return arrayArg('text_concat', args, 'data')
      .map((v, i) => textOf('text_concat', `data[${i}]`, v))
      .join(separator);
  },
};

export const TEXT_PROCESSES: ProcessImplementation[] = [
  textTest('text_begins', (text, pattern) => text.startsWith(pattern), 'Text begins with', 'Whether `data` starts with `pattern`.'),
  textTest('text_ends', (text, pattern) => text.endsWith(pattern), 'Text ends with', 'Whether `data` finishes with `pattern`.'),
  textTest('text_contains', (text, pattern) => text.includes(pattern), 'Text contains', 'Whether `pattern` occurs anywhere in `data`.'),
  textConcat,
];
