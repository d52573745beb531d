import type { JsonSchema, ProcessDefinition, ProcessParameter } from './types.js';

/**
 * Building blocks of process definitions (what GET /processes lists). Schemas follow the
 * openEO process specifications exactly, so clients validate graphs the same way everywhere.
 */

export const NUMBER_OR_NULL = { type: ['number', 'null'] } as const satisfies JsonSchema;
export const BOOLEAN_OR_NULL = { type: ['boolean', 'null'] } as const satisfies JsonSchema;
export const BOOLEAN = { type: 'boolean' } as const satisfies JsonSchema;
export const NUMBER = { type: 'number' } as const satisfies JsonSchema;
/** Any value at all. */
export const ANY = {} as const satisfies JsonSchema;
export const ANY_ARRAY = { type: 'array', items: {} } as const satisfies JsonSchema;
export const NUMBER_ARRAY = { type: 'array', items: { type: ['number', 'null'] } } as const satisfies JsonSchema;
/** The scalars comparisons accept. */
export const COMPARABLE = { type: ['number', 'boolean', 'string', 'null'] } as const satisfies JsonSchema;

export function param(name: string, description: string, schema: JsonSchema, extra: Partial<ProcessParameter> = {}): ProcessParameter {
  return { name, description, schema, ...extra };
}

/** An optional parameter with its default. */
export function optionalParam(name: string, description: string, schema: JsonSchema, defaultValue: unknown, extra: Partial<ProcessParameter> = {}): ProcessParameter {
  return { name, description, schema, optional: true, default: defaultValue, ...extra };
}

export function definition(
  id: string,
  summary: string,
  description: string,
  categories: string[],
  parameters: ProcessParameter[],
  returns: ProcessDefinition['returns'],
  extra: Partial<ProcessDefinition> = {},
): ProcessDefinition {
  return { id, summary, description, categories, parameters, returns, ...extra };
}

/** Error codes a process raises, each with a message in this back-end's words. */
export function exceptions(entries: Record<string, string>): NonNullable<ProcessDefinition['exceptions']> {
  return Object.fromEntries(Object.entries(entries).map(([code, message]) => [code, { message }]));
}
