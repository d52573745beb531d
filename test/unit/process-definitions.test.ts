import { expect, it } from 'vitest';
import { defaultProcessRegistry } from '../../api/processes/index.js';
import type { ProcessDefinition } from '../../api/processes/types.js';
import { officialDefinition } from '../conformance/process-cases.js';
import { describeWithShared } from '../helpers/shared.js';

/**
 * Every offered process that openEO specifies must have the official interface (parameters,
 * their order, optionality, defaults and schemas, the return schema, categories), so clients
 * build and validate graphs for it as for any back-end; its texts must be this back-end's own.
 */

/** Words in a row that may not be shared with the official texts. */
const SHARED_PHRASE_WORDS = 8;

/** Schemas without their prose: titles, descriptions and examples are free to differ. */
function structure(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(structure);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key !== 'description' && key !== 'title' && key !== 'examples')
      .map(([key, v]) => [key, structure(v)]),
  );
}

interface OfficialParameter {
  name: string;
  schema: unknown;
  optional?: boolean;
  default?: unknown;
  deprecated?: boolean;
}

function interfaceOf(parameters: readonly OfficialParameter[]): unknown[] {
  return parameters.map((p) => ({
    name: p.name,
    optional: p.optional ?? false,
    ...('default' in p ? { default: p.default } : {}),
    deprecated: p.deprecated ?? false,
    schema: structure(p.schema),
  }));
}

/** Every piece of prose in a definition: summaries, descriptions, messages, at any depth. */
function texts(value: unknown, into: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) texts(v, into);
  else if (typeof value === 'object' && value !== null) {
    for (const [key, v] of Object.entries(value)) {
      if (typeof v === 'string' && ['summary', 'description', 'message', 'title'].includes(key)) into.push(v);
      else if (key !== 'examples' && key !== 'process_graph') texts(v, into);
    }
  }
  return into;
}

function words(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .split(/[^\p{L}\p{N}-]+/u)
    .filter((w) => w.length > 0);
}

function phrases(text: string): Set<string> {
  const w = words(text);
  const out = new Set<string>();
  for (let i = 0; i + SHARED_PHRASE_WORDS <= w.length; i++) out.add(w.slice(i, i + SHARED_PHRASE_WORDS).join(' '));
  return out;
}

describeWithShared('process definitions', () => {
  const registry = defaultProcessRegistry();
  const specified = registry
    .definitions()
    .map((d) => ({ ours: d, official: officialDefinition(d.id) }))
    .filter((p): p is { ours: ProcessDefinition; official: Record<string, unknown> } => p.official !== null);

  it('cover the offered processes that openEO specifies', () => {
    expect(specified.length).toBeGreaterThan(80);
  });

  it('would notice a copied sentence', () => {
    const official = specified.find((p) => p.ours.id === 'eq')!.official;
    const copied = texts(official).find((t) => words(t).length >= SHARED_PHRASE_WORDS)!;
    expect([...phrases(`Here it is: ${copied}`)].some((p) => new Set(texts(official).flatMap((t) => [...phrases(t)])).has(p))).toBe(true);
  });

  it.each(specified.map((p) => [p.ours.id, p] as const))('%s has the official interface', (_id, { ours, official }) => {
    expect(interfaceOf(ours.parameters)).toEqual(interfaceOf(official.parameters as OfficialParameter[]));
    expect(structure(ours.returns.schema)).toEqual(structure((official.returns as { schema: unknown }).schema));
    expect(ours.categories).toEqual(official.categories);
    expect(ours.experimental ?? false).toBe(official.experimental ?? false);
  });

  it.each(specified.map((p) => [p.ours.id, p] as const))('%s is described in this back-end\'s own words', (_id, { ours, official }) => {
    const officialPhrases = new Set(texts(official).flatMap((t) => [...phrases(t)]));
    const shared = texts(ours).flatMap((t) => [...phrases(t)].filter((p) => officialPhrases.has(p)));
    expect(shared).toEqual([]);
    // Names of functions ("Sine", "Square root") may coincide; sentences may not.
    for (const text of [ours.summary, ours.description, ours.returns.description, ...ours.parameters.map((p) => p.description)]) expect(text.length).toBeGreaterThan(0);
  });
});
