import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import JSON5 from 'json5';
import { DagBuilder } from '../../api/compiler/dag-builder.js';
import { GraphEvaluator } from '../../api/compiler/evaluate.js';
import type { ProcessGraph } from '../../api/compiler/process-graph.js';
import { CubeValue, type Value } from '../../api/compiler/values.js';
import type { LiteralChunking } from '../../api/compiler/literal-cube.js';
import { collectCube, cubeMismatch, cubeOf, isDatacubeArgument, readDatacube } from './datacubes.js';
import { labelArray, labelsOf, type Label } from '../../api/processes/labeled-array.js';
import type { ProcessRegistry } from '../../api/processes/registry.js';
import { isOpenEOError } from '../../common/errors.js';
import { Catalog } from '../../ingest/catalog.js';
import { sharedPath } from '../helpers/shared.js';

/**
 * The openEO process test cases (openeo-processes `tests/*.json5`) as a conformance suite:
 * load the cases of some processes, run each through an executor, compare with the expected
 * outcome. The in-process executor evaluates a one-node process graph with GraphEvaluator;
 * another executor (e.g. one posting to /result) can run the same cases.
 */

export const PROCESS_SPECS_DIR = sharedPath('openeo', 'processes');
export const PROCESS_TESTS_DIR = join(PROCESS_SPECS_DIR, 'tests');

/** Numbers match to 10 decimals unless a case gives its own `delta` (tests README). */
export const DEFAULT_DELTA = 1e-10;

export interface ProcessCase {
  process: string;
  /** Position of the case in its file, to name it. */
  index: number;
  arguments: Record<string, unknown>;
  /** Present when the case has an expected value; either it or `throws` may be satisfied. */
  returns?: { value: unknown };
  /** An error code the process must raise, or true for any error. */
  throws?: string | true;
  delta: number;
  /** Other processes the case needs (callbacks). */
  required: string[];
}

export type CaseStatus = 'passed' | 'failed' | 'not run: datacube' | 'not run: not offered';

export interface CaseOutcome {
  case: ProcessCase;
  status: CaseStatus;
  /** Why a case failed, in a line. */
  detail?: string;
}

/**
 * Runs a process on decoded arguments and gives its value (or throws its error). Executors that
 * take data cubes return the task graph a resulting cube needs, so it can be run and compared.
 */
export type Executor = ((process: string, args: Record<string, Value>) => Promise<Value | { value: Value; builder: DagBuilder }>) & { datacubes?: boolean; chunking?: LiteralChunking | null };

interface RawCase {
  arguments?: Record<string, unknown>;
  returns?: unknown;
  throws?: string | boolean;
  delta?: number;
  required?: string[];
}

export function caseName(c: ProcessCase): string {
  return `${c.process}#${c.index}`;
}

/** Process ids that have a test file. */
export function processesWithCases(): string[] {
  return readdirSync(PROCESS_TESTS_DIR)
    .filter((f) => f.endsWith('.json5'))
    .map((f) => f.slice(0, -'.json5'.length))
    .sort();
}

export function loadProcessCases(process: string): ProcessCase[] {
  const file = join(PROCESS_TESTS_DIR, `${process}.json5`);
  if (!existsSync(file)) return [];
  const document = JSON5.parse(readFileSync(file, 'utf8')) as { tests: RawCase[] };
  return document.tests.map((raw, index) => ({
    process,
    index,
    arguments: raw.arguments ?? {},
    ...('returns' in raw ? { returns: { value: raw.returns } } : {}),
    ...(raw.throws === undefined || raw.throws === false ? {} : { throws: raw.throws }),
    delta: raw.delta ?? DEFAULT_DELTA,
    required: raw.required ?? [],
  }));
}

/** The official definition of a process (released or proposed), or null. */
export function officialDefinition(process: string): Record<string, unknown> | null {
  for (const file of [join(PROCESS_SPECS_DIR, `${process}.json`), join(PROCESS_SPECS_DIR, 'proposals', `${process}.json`)]) {
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  }
  return null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function mentionsDatacube(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(mentionsDatacube);
  if (!isRecord(value)) return false;
  if (value.type === 'datacube' || value.subtype === 'datacube' || typeof value.$ref === 'string') return true;
  return Object.values(value).some(mentionsDatacube);
}

/**
 * Whether a case needs a data cube: a cube (or a file of one) among its arguments or result, or
 * a process whose definition takes or gives data cubes. Those run only against a full back-end.
 */
export function needsDatacube(c: ProcessCase): boolean {
  if (mentionsDatacube(c.arguments) || mentionsDatacube(c.returns?.value)) return true;
  const official = officialDefinition(c.process);
  if (!official) return false;
  const parameters = (official.parameters as { schema: unknown }[]).map((p) => p.schema);
  return mentionsDatacube(parameters) || mentionsDatacube((official.returns as { schema: unknown }).schema);
}

/** Why a case cannot travel as JSON (NaN, infinities and labelled arrays have no JSON form), or null. */
export function jsonIncompatibility(c: ProcessCase): string | null {
  const walk = (value: unknown): string | null => {
    if (typeof value === 'number' && !Number.isFinite(value)) return `the number ${value}`;
    if (Array.isArray(value)) return value.map(walk).find((r) => r !== null) ?? null;
    if (!isRecord(value)) return null;
    if (value.type === 'labeled-array') return 'a labelled array';
    return Object.values(value).map(walk).find((r) => r !== null) ?? null;
  };
  return walk(c.arguments) ?? walk(c.returns?.value);
}

// ---- Encoding of the test files: no-data, labelled arrays, date-times ----

function isNodata(value: unknown): boolean {
  return isRecord(value) && value.type === 'nodata' && Object.keys(value).length === 1;
}

function labeledEntries(value: unknown): { key: Label; value: unknown }[] | null {
  if (!isRecord(value) || value.type !== 'labeled-array' || !Array.isArray(value.data)) return null;
  return value.data as { key: Label; value: unknown }[];
}

function isDatetime(value: unknown): value is { type: 'datetime'; value: string } {
  return isRecord(value) && value.type === 'datetime' && typeof value.value === 'string';
}

/**
 * Some child graphs of the suite still refer to values the openEO 0.4 way, `{"from_argument": name}`
 * for both callback parameters and other nodes. They are read as `from_node` when a node of
 * that name exists in the same graph and as `from_parameter` otherwise.
 */
function modernReferences(graph: Record<string, unknown>): Record<string, unknown> {
  const ids = new Set(Object.keys(graph));
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (!isRecord(value)) return value;
    if (typeof value.from_argument === 'string' && Object.keys(value).length === 1) {
      return ids.has(value.from_argument) ? { from_node: value.from_argument } : { from_parameter: value.from_argument };
    }
    if (isRecord(value.process_graph)) return { ...value, process_graph: modernReferences(value.process_graph) };
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewrite(v)]));
  };
  return Object.fromEntries(Object.entries(graph).map(([id, node]) => [id, rewrite(node)]));
}

/**
 * An argument as this back-end represents it: null for no-data, labelled arrays with their
 * labels, data cubes as inline cubes in one chunk or cut as `chunking` says.
 */
export function decodeArgument(value: unknown, chunking: LiteralChunking | null = null): Value {
  const decode = (v: unknown): Value => decodeArgument(v, chunking);
  if (isNodata(value)) return null;
  if (isDatacubeArgument(value)) return new CubeValue(cubeOf(value, PROCESS_TESTS_DIR, chunking));
  // Files other than cubes (a WKT2 CRS) are read as text.
  if (isRecord(value) && typeof value.$ref === 'string' && Object.keys(value).length === 1) return readFileSync(join(PROCESS_TESTS_DIR, value.$ref), 'utf8');
  const entries = labeledEntries(value);
  if (entries) return labelArray(entries.map((e) => decode(e.value)), entries.map((e) => e.key));
  if (isDatetime(value)) return value.value;
  if (Array.isArray(value)) return value.map(decode);
  if (isRecord(value)) {
    // Child process graphs are passed as written, but for their references.
    if (isRecord(value.process_graph)) return { ...value, process_graph: modernReferences(value.process_graph) } as Value;
    if ('process_graph' in value) return value as Value;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
  }
  return value as Value;
}

function containsLabeledArray(value: Value): boolean {
  if (value instanceof CubeValue) return true;
  if (!Array.isArray(value)) return typeof value === 'object' && value !== null && !('process_graph' in value) && Object.values(value).some((v) => containsLabeledArray(v as Value));
  return labelsOf(value) !== null || value.some(containsLabeledArray);
}

// ---- Comparison ----

function show(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) {
    const labels = labelsOf(value as Value[]);
    const items = value.map(show).join(', ');
    return labels ? `{${value.map((v, i) => `${String(labels[i])}: ${show(v)}`).join(', ')}}` : `[${items}]`;
  }
  return JSON.stringify(value) ?? String(value);
}

/** Null when `actual` matches the expected value of the test file, else why not. */
export function mismatch(actual: unknown, expected: unknown, delta: number): string | null {
  const differ = (): string => `expected ${show(decodeArgument(expected))}, got ${show(actual)}`;
  if (isNodata(expected) || expected === null) return actual === null ? null : differ();
  if (typeof expected === 'number') {
    if (typeof actual !== 'number') return differ();
    if (Number.isNaN(expected) || Number.isNaN(actual)) return Number.isNaN(expected) && Number.isNaN(actual) ? null : differ();
    if (actual === expected || Math.abs(actual - expected) <= delta) return null;
    return differ();
  }
  if (typeof expected === 'string' || typeof expected === 'boolean') return actual === expected ? null : differ();
  if (isDatetime(expected)) return typeof actual === 'string' && Date.parse(actual) === Date.parse(expected.value) ? null : differ();
  const entries = labeledEntries(expected);
  if (entries) {
    const labels = Array.isArray(actual) ? labelsOf(actual as Value[]) : null;
    if (!labels || labels.length !== entries.length || entries.some((e, i) => e.key !== labels[i])) return differ();
    return sequenceMismatch(actual as unknown[], entries.map((e) => e.value), delta) && differ();
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || labelsOf(actual as Value[]) !== null) return differ();
    return sequenceMismatch(actual, expected, delta) && differ();
  }
  if (isRecord(expected)) {
    if (!isRecord(actual)) return differ();
    const keys = Object.keys(expected);
    if (keys.length !== Object.keys(actual).length) return differ();
    return keys.some((k) => !(k in actual) || mismatch(actual[k], expected[k], delta) !== null) ? differ() : null;
  }
  return differ();
}

function sequenceMismatch(actual: unknown[], expected: unknown[], delta: number): string | null {
  if (actual.length !== expected.length) return 'lengths differ';
  for (let i = 0; i < expected.length; i++) {
    const reason = mismatch(actual[i], expected[i], delta);
    if (reason) return reason;
  }
  return null;
}

// ---- Running ----

/**
 * Evaluates each case as a one-node process graph with the registry's implementations.
 * Arguments holding labelled arrays (which JSON cannot write) are bound as graph parameters,
 * the way a callback receives them; all others are written into the node literally.
 */
export function inProcessExecutor(registry: ProcessRegistry, options: { datacubes?: boolean; chunking?: LiteralChunking | null } = {}): Executor {
  const evaluator = new GraphEvaluator(registry);
  // No collections: the processes under test never load data.
  const catalog = new Catalog(join(tmpdir(), 'conformance-without-collections'));
  const executor: Executor = async (process, args) => {
    const literal: Record<string, unknown> = {};
    const parameters: Record<string, Value> = {};
    for (const [name, value] of Object.entries(args)) {
      if (containsLabeledArray(value)) {
        parameters[`argument_${name}`] = value;
        literal[name] = { from_parameter: `argument_${name}` };
      } else {
        literal[name] = value;
      }
    }
    const graph: ProcessGraph = { p: { process_id: process, arguments: literal, result: true } };
    const builder = new DagBuilder();
    const context = { catalog, builder, target: { jobId: 'conformance', outputDir: 'conformance' }, warnings: [], outputs: [] };
    return { value: (await evaluator.run(graph, context, parameters)).result, builder };
  };
  executor.datacubes = options.datacubes ?? true;
  executor.chunking = options.chunking ?? null;
  return executor;
}

export async function runCase(c: ProcessCase, execute: Executor, offered: (process: string) => boolean): Promise<CaseOutcome> {
  if (needsDatacube(c) && !execute.datacubes) return { case: c, status: 'not run: datacube' };
  const missing = [c.process, ...c.required].filter((p) => !offered(p));
  if (missing.length > 0) return { case: c, status: 'not run: not offered', detail: `needs ${missing.join(', ')}` };
  let result: Value;
  try {
    const args = Object.fromEntries(Object.entries(c.arguments).map(([k, v]) => [k, decodeArgument(v, execute.chunking ?? null)]));
    const outcome = await execute(c.process, args);
    const withBuilder = outcome !== null && typeof outcome === 'object' && 'builder' in outcome && outcome.builder instanceof DagBuilder ? (outcome as { value: Value; builder: DagBuilder }) : null;
    const value = withBuilder ? withBuilder.value : (outcome as Value);
    const builder = withBuilder?.builder ?? null;
    if (value instanceof CubeValue) {
      if (!isDatacubeArgument(c.returns?.value)) return { case: c, status: 'failed', detail: `returned a data cube, expected ${JSON.stringify(c.returns?.value ?? c.throws)}` };
      const collected = await collectCube(value.cube, builder ?? new DagBuilder());
      const reason = cubeMismatch(collected, readDatacube(c.returns!.value, PROCESS_TESTS_DIR), c.delta);
      return reason ? { case: c, status: 'failed', detail: reason } : { case: c, status: 'passed' };
    }
    result = value;
  } catch (error) {
    const code = isOpenEOError(error) ? error.code : null;
    if (c.throws === true || (c.throws !== undefined && code === c.throws)) return { case: c, status: 'passed' };
    const message = error instanceof Error ? error.message : String(error);
    return { case: c, status: 'failed', detail: `threw ${code ?? 'a non-openEO error'}: ${message}${c.throws ? ` (expected ${c.throws})` : ''}` };
  }
  if (!c.returns) return { case: c, status: 'failed', detail: `expected ${c.throws === true ? 'an error' : c.throws}, got ${show(result)}` };
  const reason = mismatch(result, c.returns.value, c.delta);
  return reason ? { case: c, status: 'failed', detail: reason } : { case: c, status: 'passed' };
}

export async function runProcessCases(processes: string[], execute: Executor, offered: (process: string) => boolean): Promise<CaseOutcome[]> {
  const outcomes: CaseOutcome[] = [];
  for (const process of processes) for (const c of loadProcessCases(process)) outcomes.push(await runCase(c, execute, offered));
  return outcomes;
}

export function countByStatus(outcomes: CaseOutcome[]): Record<CaseStatus, number> {
  const counts: Record<CaseStatus, number> = { passed: 0, failed: 0, 'not run: datacube': 0, 'not run: not offered': 0 };
  for (const o of outcomes) counts[o.status]++;
  return counts;
}

/** `N passed, N failed` (and what was not run), then one line per failure. */
export function report(outcomes: CaseOutcome[]): string {
  const counts = countByStatus(outcomes);
  const lines = [`${counts.passed} passed, ${counts.failed} failed, ${counts['not run: datacube']} not run: datacube, ${counts['not run: not offered']} not run: not offered`];
  for (const o of outcomes) if (o.status === 'failed') lines.push(`  FAIL ${caseName(o.case)}: ${o.detail}`);
  return lines.join('\n');
}
