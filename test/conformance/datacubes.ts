import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import JSON5 from 'json5';
import { type LazyCube, nonSpatialDims, temporalDim, tileCount, tileRange, timeBlockCount, timeBlockRange } from '../../api/compiler/cube.js';
import type { DagBuilder } from '../../api/compiler/dag-builder.js';
import { type LiteralChunking, literalCube, type LiteralDatacube } from '../../api/compiler/literal-cube.js';
import type { VectorCube } from '../../api/compiler/vector-cube.js';
import type { ArrayChunk } from '../../common/chunk.js';
import { evaluate } from '../../worker/ir/evaluate.js';
import { runLocally } from '../../worker/local-runner.js';

/**
 * Data cubes of the openEO process test cases: read the inline or referenced ones as lazy cubes,
 * run a resulting cube in this process (its tasks, then each chunk's program) and compare it
 * with the expected cube of a case.
 */

export function isDatacubeArgument(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return v.type === 'datacube' || (typeof v.$ref === 'string' && v.$ref.endsWith('.json5'));
}

export function readDatacube(value: unknown, testsDir: string): LiteralDatacube {
  const v = value as Record<string, unknown>;
  const raw = typeof v.$ref === 'string' ? (JSON5.parse(readFileSync(join(testsDir, v.$ref), 'utf8')) as Record<string, unknown>) : v;
  return normalizeDatacube(raw);
}

/**
 * The two ways the suite writes a cube's dimensions: an object by name with a separate `order`,
 * or an array of dimensions carrying their names (order implied). A missing `order` is the
 * order the dimensions are written in.
 */
function normalizeDatacube(raw: Record<string, unknown>): LiteralDatacube {
  let dimensions = raw.dimensions as LiteralDatacube['dimensions'] | (LiteralDatacube['dimensions'][string] & { name: string })[];
  let order = raw.order as string[] | undefined;
  if (Array.isArray(dimensions)) {
    order ??= dimensions.map((d) => d.name);
    dimensions = Object.fromEntries(dimensions.map(({ name, ...rest }) => [name, rest]));
  }
  if (!Array.isArray(order)) order = Object.keys(dimensions ?? {});
  return { ...(raw as unknown as LiteralDatacube), dimensions: dimensions ?? {}, order };
}

export function cubeOf(value: unknown, testsDir: string, chunking: LiteralChunking | null = null): LazyCube {
  return literalCube(readDatacube(value, testsDir), chunking);
}

export interface CollectedCube {
  /** Dimension names in order: non-spatial first, then y, x. */
  order: string[];
  dimensions: Record<string, { type: string; values: (string | number)[] }>;
  shape: number[];
  data: Float64Array;
}

/** Where collected cubes read collections from when none is given (the suite's cubes read nothing). */
const DEFAULT_DATA_DIR = join(tmpdir(), 'conformance-data');

/** Runs the tasks the cube depends on and evaluates every chunk, assembling the whole cube. */
export async function collectCube(cube: LazyCube, builder: DagBuilder, dataDir: string = DEFAULT_DATA_DIR): Promise<CollectedCube> {
  const dims = nonSpatialDims(cube);
  const { width, height, transform } = cube.grid;
  const t = temporalDim(cube);
  const order = [...dims.map((d) => d.name), 'y', 'x'];
  const shape = [...dims.map((d) => d.labels.length), height, width];
  const data = new Float64Array(shape.reduce((a, b) => a * b, 1)).fill(NaN);
  const dimensions: CollectedCube['dimensions'] = {};
  for (const d of dims) dimensions[d.name] = { type: d.type, values: d.labels };
  dimensions.y = { type: 'spatial', values: Array.from({ length: height }, (_, r) => transform[3] + (r + 0.5) * transform[5]) };
  dimensions.x = { type: 'spatial', values: Array.from({ length: width }, (_, c) => transform[0] + (c + 0.5) * transform[1]) };
  if (width === 0 || height === 0 || data.length === 0) return { order, dimensions, shape, data };
  const programs: { coord: { tx: number; ty: number; tb: number }; node: ReturnType<LazyCube['chunk']> }[] = [];
  const ntx = tileCount(width, cube.layout.tileWidth, cube.layout.offsetX);
  const nty = tileCount(height, cube.layout.tileHeight, cube.layout.offsetY);
  for (let tb = 0; tb < timeBlockCount(cube); tb++) {
    for (let ty = 0; ty < nty; ty++) for (let tx = 0; tx < ntx; tx++) programs.push({ coord: { tx, ty, tb }, node: cube.chunk({ tx, ty, tb }) });
  }
  const { tasks } = builder.result();
  const needed = [...new Set(programs.flatMap((p) => p.node.inputs))];
  const { chunks } = await runLocally(tasks, needed, dataDir);
  const planeStrides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  for (const { coord, node } of programs) {
    const inputs = node.inputs.map((key) => chunks.get(key) as ArrayChunk);
    const result = await evaluate(node.node, { inputs, dataDir, signal: { aborted: false } });
    const cols = tileRange(coord.tx, width, cube.layout.tileWidth, cube.layout.offsetX);
    const rows = tileRange(coord.ty, height, cube.layout.tileHeight, cube.layout.offsetY);
    const times = timeBlockRange(cube, coord.tb);
    // The chunk's array: dims of the cube (time limited to its block), then y, x; broadcast if it lacks some.
    const expectShape = [...dims.map((d) => (d === t ? times.end - times.start : d.labels.length)), rows.end - rows.start, cols.end - cols.start];
    const count = expectShape.reduce((a, b) => a * b, 1);
    const arrayDims = result.dims;
    // A chunk must hold exactly the cube's dimensions, in the cube's order, with the chunk's sizes
    // (outputs write chunks as they come).
    const layout = order.map((name, i) => `${name}=${expectShape[i]}`).join(',');
    const got = arrayDims.map((name, i) => `${name}=${result.shape[i]}`).join(',');
    if (layout !== got) throw new Error(`chunk ${coord.tx},${coord.ty},${coord.tb} has dimensions ${got}, expected ${layout}`);
    const counter = new Array<number>(expectShape.length).fill(0);
    for (let i = 0; i < count; i++) {
      let src = 0;
      let stride = 1;
      for (let d = arrayDims.length - 1; d >= 0; d--) {
        const at = order.indexOf(arrayDims[d]!);
        src += (at >= 0 ? counter[at]! : 0) * stride;
        stride *= result.shape[d]!;
      }
      let dst = 0;
      for (let d = 0; d < order.length; d++) {
        const offset = d === order.length - 1 ? cols.start : d === order.length - 2 ? rows.start : dims[d] === t ? times.start : 0;
        dst += (counter[d]! + offset) * planeStrides[d]!;
      }
      data[dst] = result.data[src]!;
      for (let d = expectShape.length - 1; d >= 0; d--) {
        if (++counter[d]! < expectShape[d]!) break;
        counter[d] = 0;
      }
    }
  }
  return { order, dimensions, shape, data };
}

function sameLabel(a: string | number, b: string | number, delta: number): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= Math.max(delta, 1e-6);
  if (typeof a === 'string' && typeof b === 'string' && /^\d{4}-\d\d-\d\d/.test(a) && /^\d{4}-\d\d-\d\d/.test(b)) return Date.parse(a) === Date.parse(b);
  return a === b;
}

/** Null when the collected cube equals the expected one of a test case, else why not. */
export function cubeMismatch(actual: CollectedCube, expected: LiteralDatacube, delta: number): string | null {
  const expectedNames = Object.keys(expected.dimensions);
  const renamed = (name: string): string => {
    const d = expected.dimensions[name]!;
    return d.type === 'spatial' ? (d.axis === 'x' || name === 'x' ? 'x' : 'y') : name;
  };
  const names = expectedNames.map(renamed);
  if (names.length !== actual.order.length || names.some((n) => !actual.order.includes(n))) {
    return `dimensions differ: expected ${expected.order.join(', ')}, got ${actual.order.join(', ')}`;
  }
  for (const name of expectedNames) {
    const ours = actual.dimensions[renamed(name)]!;
    const theirs = expected.dimensions[name]!;
    if (theirs.type !== 'spatial' && ours.type !== theirs.type) return `dimension ${name} is ${ours.type}, expected ${theirs.type}`;
    const values = theirs.values ?? [];
    if (values.length !== ours.values.length || values.some((v, i) => !sameLabel(v, ours.values[i]!, delta))) {
      return `labels of ${name} differ: expected ${JSON.stringify(values)}, got ${JSON.stringify(ours.values)}`;
    }
  }
  if (expected.data === null || expected.data === undefined) return null;
  const flat: number[] = [];
  const walk = (v: unknown): void => (Array.isArray(v) ? v.forEach(walk) : void flat.push(typeof v === 'number' ? v : typeof v === 'boolean' ? (v ? 1 : 0) : NaN));
  walk(expected.data);
  const nodata = (Array.isArray(expected.nodata) ? expected.nodata : [expected.nodata]).filter((v): v is number => typeof v === 'number' && !Number.isNaN(v));
  const sizes = expected.order.map((n) => (expected.dimensions[n]!.values ?? []).length);
  const ourStrides = actual.shape.map((_, i) => actual.shape.slice(i + 1).reduce((a, b) => a * b, 1));
  if (flat.length !== actual.data.length) return `expected ${flat.length} values, got ${actual.data.length}`;
  const counter = new Array<number>(sizes.length).fill(0);
  for (let i = 0; i < flat.length; i++) {
    let ours = 0;
    for (let d = 0; d < sizes.length; d++) ours += counter[d]! * ourStrides[actual.order.indexOf(renamed(expected.order[d]!))]!;
    const want = nodata.includes(flat[i]!) ? NaN : flat[i]!;
    const got = actual.data[ours]!;
    const equal = Number.isNaN(want) ? Number.isNaN(got) : Math.abs(got - want) <= delta || got === want;
    if (!equal) return `value at ${counter.join(',')} (${expected.order.join(',')}) is ${got}, expected ${want}`;
    for (let d = sizes.length - 1; d >= 0; d--) {
      if (++counter[d]! < sizes[d]!) break;
      counter[d] = 0;
    }
  }
  return null;
}

/** Runs the task of a vector cube (zonal statistics) and gives its values, row-major over its dimensions. */
export async function collectVectorCube(cube: VectorCube, builder: DagBuilder, dataDir: string = DEFAULT_DATA_DIR): Promise<{ dims: VectorCube['dims']; data: Float64Array }> {
  const { tasks } = builder.result();
  const { chunks } = await runLocally(tasks, cube.program.inputs, dataDir);
  const inputs = cube.program.inputs.map((key) => chunks.get(key) as ArrayChunk);
  const result = await evaluate(cube.program.node, { inputs, dataDir, signal: { aborted: false } });
  const expected = cube.dims.map((d) => `${d.name}=${d.labels.length}`).join(',');
  const got = result.dims.map((d, i) => `${d}=${result.shape[i]}`).join(',');
  if (expected !== got) throw new Error(`the vector cube's values have dimensions ${got}, expected ${expected}`);
  return { dims: cube.dims, data: Float64Array.from(result.data) };
}
