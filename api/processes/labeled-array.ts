import { OpenEOError } from '../../common/errors.js';
import type { Value } from '../compiler/values.js';

/**
 * Labelled arrays outside data cubes (e.g. the values of one pixel along the bands). JSON has
 * no way to write them, so the labels travel beside the array rather than in it: the array stays
 * a plain array every array process can read, and label-aware processes look its labels up here.
 * Keyed weakly by the array itself, so a labelled array costs nothing once it is dropped.
 */

export type Label = string | number;

const labelsByArray = new WeakMap<Value[], readonly Label[]>();

/** Marks `values` as labelled; labels must be as many as values and distinct. */
export function labelArray(values: Value[], labels: readonly Label[]): Value[] {
  if (labels.length !== values.length) throw new OpenEOError('Internal', `a labelled array got ${labels.length} labels for ${values.length} values`);
  labelsByArray.set(values, [...labels]);
  return values;
}

/** The labels of a labelled array, or null for an ordinary array. */
export function labelsOf(values: Value[]): readonly Label[] | null {
  return labelsByArray.get(values) ?? null;
}
