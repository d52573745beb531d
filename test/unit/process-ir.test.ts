import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { IRNode } from '../../common/ir.js';
import { DagBuilder } from '../../api/compiler/dag-builder.js';
import { GraphEvaluator } from '../../api/compiler/evaluate.js';
import { isSymbolic, SymbolicValue, type Value } from '../../api/compiler/values.js';
import { defaultProcessRegistry } from '../../api/processes/index.js';
import { Catalog } from '../../ingest/catalog.js';
import { evaluate } from '../../worker/ir/evaluate.js';
import { reduceParts } from '../../worker/ir/reduce.js';

/**
 * A process must give the same answer on pixel values (the IR it emits inside a callback,
 * evaluated by the worker) as on plain values (computed at once). Each test runs one process
 * node both ways on the same numbers; in the IR NaN stands for no-data (null) and booleans are 1/0.
 */

const registry = defaultProcessRegistry();
const evaluator = new GraphEvaluator(registry);
const context = {
  catalog: new Catalog(join(tmpdir(), 'ir-test-without-collections')),
  builder: new DagBuilder(),
  target: { jobId: 'ir', outputDir: 'ir' },
  warnings: [],
  outputs: [],
};

/** Runs `process` as a one-node graph; arguments naming a parameter read it from `parameters`. */
async function run(process: string, args: Record<string, unknown>, parameters: Record<string, Value>): Promise<Value> {
  const graph = { p: { process_id: process, arguments: args, result: true } };
  return (await evaluator.run(graph, context, parameters)).result;
}

const PIXEL = { from_parameter: 'pixel' };
const SERIES = { from_parameter: 'series' };

/** The IR encoding of a plain result. */
function asPixel(value: Value): number {
  if (value === null) return NaN;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return value;
  if (Array.isArray(value) && value.length === 1) return asPixel(value[0]!);
  throw new Error(`not a pixel value: ${JSON.stringify(value)}`);
}

function asPlain(pixel: number, kind: 'number' | 'boolean'): Value {
  if (Number.isNaN(pixel)) return null;
  return kind === 'boolean' ? pixel !== 0 : pixel;
}

async function evaluateIR(node: IRNode, dims: string[], shape: number[], values: number[]): Promise<number[]> {
  const inputs = [{ kind: 'array' as const, dims, shape, data: Float64Array.from(values) }];
  const out = await evaluate(node, { inputs, dataDir: '', signal: { aborted: false } });
  const n = shape.length === 1 ? shape[0]! : shape[1]!;
  return out.data.length === 1 ? Array.from({ length: n }, () => out.data[0]!) : Array.from(out.data);
}

function expectSame(ir: number[], eager: number[], label: string): void {
  expect(ir.length, label).toBe(eager.length);
  ir.forEach((v, i) => {
    const e = eager[i]!;
    const same = (Number.isNaN(v) && Number.isNaN(e)) || v === e || Math.abs(v - e) <= 1e-9 * Math.max(1, Math.abs(e));
    expect(same, `${label} at ${i}: IR ${v}, plain ${e}`).toBe(true);
  });
}

const NUMBERS = [-7.25, -2.5, -1, -0.5, 0, 0.25, 0.5, 1, 2.5, 3.5, 10, 1234.5, Infinity, -Infinity, NaN];
const BOOLEANS = [1, 0, NaN];

/** Compares a process on each value of `pixels` (bound to `x`-like arguments via PIXEL). */
async function checkElementwise(process: string, args: Record<string, unknown>, pixels: number[], kind: 'number' | 'boolean' = 'number'): Promise<void> {
  const symbolic = await run(process, args, { pixel: new SymbolicValue({ op: 'input', index: 0 }, ['x']) });
  expect(isSymbolic(symbolic), `${process} emits IR`).toBe(true);
  const ir = await evaluateIR((symbolic as SymbolicValue).node, ['x'], [pixels.length], pixels);
  const eager: number[] = [];
  for (const p of pixels) eager.push(asPixel(await run(process, args, { pixel: asPlain(p, kind) })));
  expectSame(ir, eager, `${process}(${JSON.stringify(args)})`);
}

describe('element-wise processes give the same on pixels as on plain values', () => {
  const unary = ['absolute', 'sgn', 'sqrt', 'ln', 'int', 'floor', 'ceil', 'sin', 'cos', 'tan', 'arcsin', 'arccos', 'arctan', 'sinh', 'cosh', 'tanh', 'arsinh', 'arcosh', 'artanh', 'is_valid', 'is_infinite', 'is_nodata'];
  it.each(unary)('%s', (process) => checkElementwise(process, { x: PIXEL }, NUMBERS));
  it('exp', () => checkElementwise('exp', { p: PIXEL }, NUMBERS));
  it.each([0, 1, 2, -2])('round to %i digits', (p) => checkElementwise('round', { x: PIXEL, p }, [...NUMBERS, 0.25, 0.35, -0.4444444, 2.675]));

  const binary: [string, Record<string, unknown>][] = [
    ['add', { x: PIXEL, y: 2.5 }],
    ['subtract', { x: 2.5, y: PIXEL }],
    ['multiply', { x: PIXEL, y: -3 }],
    ['divide', { x: PIXEL, y: 4 }],
    ['divide', { x: PIXEL, y: 0 }],
    ['mod', { x: PIXEL, y: 3 }],
    ['mod', { x: PIXEL, y: -3 }],
    ['mod', { x: PIXEL, y: 0 }],
    ['mod', { x: 2, y: PIXEL }],
    ['power', { base: PIXEL, p: 2 }],
    ['power', { base: 2, p: PIXEL }],
    ['log', { x: PIXEL, base: 10 }],
    ['log', { x: PIXEL, base: 2 }],
    ['log', { x: PIXEL, base: 3 }],
    ['log', { x: 8, base: PIXEL }],
    ['arctan2', { y: PIXEL, x: -1 }],
    ['normalized_difference', { x: PIXEL, y: 2 }],
    ['eq', { x: PIXEL, y: 1 }],
    ['eq', { x: PIXEL, y: 1, delta: 0.6 }],
    ['neq', { x: PIXEL, y: 1, delta: 0.6 }],
    ['neq', { x: PIXEL, y: 2.5 }],
    ['lt', { x: PIXEL, y: 1 }],
    ['lte', { x: PIXEL, y: 1 }],
    ['gt', { x: 1, y: PIXEL }],
    ['gte', { x: PIXEL, y: 1 }],
    ['between', { x: PIXEL, min: -1, max: 2.5 }],
    ['between', { x: PIXEL, min: -1, max: 2.5, exclude_max: true }],
    ['between', { x: PIXEL, min: 2, max: -1 }],
    ['clip', { x: PIXEL, min: -1, max: 2.5 }],
    ['linear_scale_range', { x: PIXEL, inputMin: -2, inputMax: 4, outputMin: 0, outputMax: 255 }],
    ['linear_scale_range', { x: PIXEL, inputMin: 100, inputMax: 0 }],
    ['if', { value: true, accept: PIXEL, reject: -1 }],
    ['if', { value: false, accept: 5, reject: PIXEL }],
  ];
  it.each(binary)('%s %j', (process, args) => checkElementwise(process, args, NUMBERS));

  it.each(['and', 'or', 'xor'])('%s', async (process) => {
    for (const y of [true, false, null]) await checkElementwise(process, { x: PIXEL, y }, BOOLEANS, 'boolean');
  });
  it('not', () => checkElementwise('not', { x: PIXEL }, BOOLEANS, 'boolean'));
  it('if on a pixel condition (no-data selects reject)', () => checkElementwise('if', { value: PIXEL, accept: 1, reject: 2 }, BOOLEANS, 'boolean'));
  // Bounds are numbers (never no-data) by their schema.
  it('clip with a bound per pixel', () => checkElementwise('clip', { x: 0.5, min: PIXEL, max: 3 }, [-1, 0, 1, 2, 2.5, -Infinity]));
  it('between with a bound per pixel', () => checkElementwise('between', { x: 0.5, min: PIXEL, max: 3 }, [-1, 0, 0.5, 1, 2, -Infinity]));
});

/** Series along `t` for several pixels (one per column); NaN is no-data. */
const SERIES_COLUMNS = [
  [1, 2, 3, 4],
  [NaN, 5, -1, 2],
  [NaN, NaN, NaN, NaN],
  [7, NaN, 3, NaN],
  [2.5, 2.5, 1, 8],
  [-3, Infinity, 2, 1],
];
const BOOLEAN_COLUMNS = [
  [1, 1, 1, 1],
  [1, 0, NaN, 1],
  [0, 0, NaN, 0],
  [NaN, NaN, NaN, NaN],
  [NaN, 1, 1, NaN],
  [0, 0, 0, 0],
];
const LABELS = ['2020-01-01', '2020-02-01', '2020-03-01', '2020-04-01'];

/** Compares a reducer over each column: the IR reduces along `t`, the plain run gets the column as an array. */
async function checkReducer(process: string, args: Record<string, unknown>, columns: number[][] = SERIES_COLUMNS, kind: 'number' | 'boolean' = 'number'): Promise<void> {
  const length = columns[0]!.length;
  const values: number[] = [];
  for (let t = 0; t < length; t++) for (const column of columns) values.push(column[t]!);
  const series = new SymbolicValue({ op: 'input', index: 0 }, ['t', 'x'], 't', LABELS);
  const result = await run(process, args, { series });
  // Processes that return one value per request (quantiles) give a list of one here.
  const symbolic = Array.isArray(result) && result.length === 1 ? result[0]! : result;
  const ir = isSymbolic(symbolic) ? await evaluateIR(symbolic.node, ['t', 'x'], [length, columns.length], values) : columns.map(() => asPixel(symbolic));
  const eager: number[] = [];
  for (const column of columns) eager.push(asPixel(await run(process, args, { series: column.map((v) => asPlain(v, kind)) })));
  expectSame(ir, eager, `${process}(${JSON.stringify(args)})`);
}

describe('reducers give the same along a dimension as on plain arrays', () => {
  const reducers = ['mean', 'median', 'min', 'max', 'sum', 'product', 'sd', 'variance', 'first', 'last'];
  it.each(reducers.flatMap((r) => [[r, true] as const, [r, false] as const]))('%s (ignore_nodata %s)', (process, ignore) => checkReducer(process, { data: SERIES, ignore_nodata: ignore }));
  it.each([[0.3], [0.5], [0], [1], [0.9]])('quantiles at %f', (p) => checkReducer('quantiles', { data: SERIES, probabilities: [p] }));
  it('quantiles as two intervals (the median)', () => checkReducer('quantiles', { data: SERIES, probabilities: 2 }));
  it('quantiles keeping no-data', () => checkReducer('quantiles', { data: SERIES, probabilities: [0.25], ignore_nodata: false }));
  it.each([[[0.1, 0.5, 0.9], true] as const, [[0.25, 0.75], false] as const])('quantiles %j (ignore_nodata %s) give one pixel value per probability', async (probabilities, ignore) => {
    const length = SERIES_COLUMNS[0]!.length;
    const values: number[] = [];
    for (let t = 0; t < length; t++) for (const column of SERIES_COLUMNS) values.push(column[t]!);
    const series = new SymbolicValue({ op: 'input', index: 0 }, ['t', 'x'], 't', LABELS);
    const symbolic = (await run('quantiles', { data: SERIES, probabilities: [...probabilities], ignore_nodata: ignore }, { series })) as SymbolicValue[];
    expect(symbolic).toHaveLength(probabilities.length);
    for (const [k] of probabilities.entries()) {
      const ir = await evaluateIR(symbolic[k]!.node, ['t', 'x'], [length, SERIES_COLUMNS.length], values);
      const eager: number[] = [];
      for (const column of SERIES_COLUMNS) eager.push(asPixel(((await run('quantiles', { data: SERIES, probabilities: [...probabilities], ignore_nodata: ignore }, { series: column.map((v) => asPlain(v, 'number')) })) as Value[])[k]!));
      expectSame(ir, eager, `quantiles ${probabilities[k]}`);
    }
  });
  it.each([true, false])('extrema (ignore_nodata %s) give the minimum and the maximum', async (ignore) => {
    const length = SERIES_COLUMNS[0]!.length;
    const values: number[] = [];
    for (let t = 0; t < length; t++) for (const column of SERIES_COLUMNS) values.push(column[t]!);
    const series = new SymbolicValue({ op: 'input', index: 0 }, ['t', 'x'], 't', LABELS);
    const [min, max] = (await run('extrema', { data: SERIES, ignore_nodata: ignore }, { series })) as SymbolicValue[];
    for (const [k, pixel] of [min!, max!].entries()) {
      const ir = await evaluateIR(pixel.node, ['t', 'x'], [length, SERIES_COLUMNS.length], values);
      const eager: number[] = [];
      for (const column of SERIES_COLUMNS) eager.push(asPixel(((await run('extrema', { data: SERIES, ignore_nodata: ignore }, { series: column.map((v) => asPlain(v, 'number')) })) as Value[])[k]!));
      expectSame(ir, eager, `extrema[${k}]`);
    }
  });
  it.each([true, false])('any (ignore_nodata %s)', (ignore) => checkReducer('any', { data: SERIES, ignore_nodata: ignore }, BOOLEAN_COLUMNS, 'boolean'));
  it.each([true, false])('all (ignore_nodata %s)', (ignore) => checkReducer('all', { data: SERIES, ignore_nodata: ignore }, BOOLEAN_COLUMNS, 'boolean'));
  it('count of valid values', () => checkReducer('count', { data: SERIES }));
  it('count of all values', () => checkReducer('count', { data: SERIES, condition: true }));
  it('count with a condition', () =>
    checkReducer('count', { data: SERIES, condition: { process_graph: { gt: { process_id: 'gt', arguments: { x: { from_parameter: 'x' }, y: { from_parameter: 'context' } }, result: true } } }, context: 2 }));
  it('array_element by index', () => checkReducer('array_element', { data: SERIES, index: 2 }));
  it('array_element by label', async () => {
    const series = new SymbolicValue({ op: 'input', index: 0 }, ['t', 'x'], 't', LABELS);
    const symbolic = (await run('array_element', { data: SERIES, label: '2020-03-01' }, { series })) as SymbolicValue;
    const values = [1, 2, 3, 4, 5, 6];
    expect(await evaluateIR(symbolic.node, ['t', 'x'], [3, 2], values)).toEqual([5, 6]);
  });
});

describe('composites over dates held in separate chunks', () => {
  /** Date planes of 37 pixels: values, NaN (no data), ±0 and infinities, different per date. */
  function datePlanes(count: number): Float32Array[] {
    return Array.from({ length: count }, (_, k) => Float32Array.from({ length: 37 }, (_, i) => ((i + k) % 5 === 0 ? NaN : i === 3 ? (k % 2 ? -Infinity : 0) : Math.fround(Math.sin(i * 1.7 + k * 2.3)))));
  }
  function reference(planes: Float32Array[], reducer: 'max' | 'min' | 'sum' | 'mean'): number[] {
    return Array.from({ length: 37 }, (_, i) => {
      const valid = planes.map((p) => p[i]!).filter((v) => !Number.isNaN(v));
      if (valid.length === 0) return NaN;
      if (reducer === 'max') return Math.max(...valid);
      if (reducer === 'min') return Math.min(...valid);
      const sum = valid.reduce((a, b) => a + b, 0);
      return Math.fround(reducer === 'sum' ? sum : sum / valid.length);
    });
  }
  it.each(['max', 'min', 'sum', 'mean'] as const)('%s of 1 to 9 dates skips no data exactly as over a plain list', (reducer) => {
    for (let count = 1; count <= 9; count++) {
      const planes = datePlanes(count);
      const parts = planes.map((data) => ({ dims: ['t', 'y', 'x'], shape: [1, 1, 37], data }));
      const out = reduceParts(parts, 't', reducer, true, true, () => {
        throw new Error('parts of one layout are not joined');
      });
      expect(Array.from(out.data), `${reducer} of ${count}`).toEqual(reference(planes, reducer));
    }
  });
});
