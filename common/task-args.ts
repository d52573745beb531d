/**
 * Task arguments travel as JSON, which has no NaN or ±Infinity (JSON.stringify writes null):
 * no-data constants would silently become 0. Non-finite numbers are written as
 * `{"$number": "NaN"}` and read back as numbers.
 */

const TAG = '$number';

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) return { [TAG]: String(value) };
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const tagged = (value as Record<string, unknown>)[TAG];
    if (typeof tagged === 'string' && Object.keys(value).length === 1) return Number(tagged);
  }
  return value;
}

export function encodeTaskArgs(args: unknown): string {
  return JSON.stringify(args, replacer);
}

export function decodeTaskArgs(text: string): unknown {
  return text.length === 0 ? {} : JSON.parse(text, reviver);
}
