import { OpenEOError } from '../../common/errors.js';
import type { Catalog } from '../../ingest/catalog.js';
import type { ProcessRegistry } from '../processes/registry.js';
import type { JobTarget, SavedOutput } from '../processes/types.js';
import { temporalDim } from './cube.js';
import { type CompiledTask, DagBuilder } from './dag-builder.js';
import { GraphEvaluator } from './evaluate.js';
import { translateLegacyGraph } from './legacy-graphs.js';
import type { ProcessGraph } from './process-graph.js';
import { lowerGtiff, lowerJsonVector, resultBase } from './save.js';
import { isCube, isVectorCube, type Value } from './values.js';

export interface CompiledJob {
  tasks: CompiledTask[];
  /** Sink task keys: their reports list the written files. */
  outputs: string[];
  saved: SavedOutput[];
  warnings: string[];
  tasksByOp: Record<string, number>;
  /**
   * The graph's result when it computes a plain value (a number, a list…) rather than data:
   * evaluated while compiling, so there are no tasks. Only with `allowPlainResult`.
   */
  plainResult?: Value;
}

export interface CompileOptions {
  catalog: Catalog;
  registry: ProcessRegistry;
  target: JobTarget;
  /** Accept graphs that compute a plain value (synchronous requests answer with it as JSON). */
  allowPlainResult?: boolean;
}

/** Validates a process (`{process_graph: …}`) and compiles it to a chunked task graph. No I/O but catalog reads. */
export async function compileProcess(process: unknown, options: CompileOptions): Promise<CompiledJob> {
  if (typeof process !== 'object' || process === null || !('process_graph' in process)) {
    throw new OpenEOError('ProcessGraphMissing', 'the request has no process graph ("process": {"process_graph": {…}})');
  }
  const submitted = (process as { process_graph: unknown }).process_graph;
  if (typeof submitted !== 'object' || submitted === null || Array.isArray(submitted)) throw new OpenEOError('ProcessGraphInvalid', 'the process graph must be an object of nodes');
  // Graphs of the predecessor system are rewritten into standard processes first.
  const graph = translateLegacyGraph(submitted as ProcessGraph);
  const builder = new DagBuilder();
  const warnings: string[] = [];
  const saved: SavedOutput[] = [];
  const evaluator = new GraphEvaluator(options.registry);
  const { result } = await evaluator.run(graph, { catalog: options.catalog, builder, target: options.target, warnings, outputs: saved });
  if (saved.length === 0 && options.allowPlainResult && isPlainJson(result)) {
    return { tasks: [], outputs: [], saved, warnings, tasksByOp: {}, plainResult: result };
  }
  if (saved.length === 0 && isVectorCube(result)) {
    warnings.push('the process graph has no save_result; the zonal statistics are saved as JSON');
    saved.push({ format: 'JSON', taskKeys: lowerJsonVector(result.cube, builder, resultBase(options.target.outputDir, 0)), grid: null, timeRange: null });
  }
  if (saved.length === 0) {
    if (!isCube(result)) throw new OpenEOError('ProcessGraphInvalid', 'the process graph saves nothing: end it with save_result');
    warnings.push('the process graph has no save_result; the result is saved as GeoTIFF');
    const times = temporalDim(result.cube)?.labels ?? null;
    saved.push({
      format: 'GTiff',
      taskKeys: lowerGtiff(result.cube, builder, resultBase(options.target.outputDir, 0), { deflateLevel: null }),
      grid: { ...result.cube.grid, transform: [...result.cube.grid.transform] },
      timeRange: times && times.length > 0 ? [times[0]!, times[times.length - 1]!] : null,
    });
  }
  const { tasks, outputs } = builder.result();
  return { tasks, outputs, saved, warnings, tasksByOp: builder.countByOp() };
}

/** Whether a value is plain JSON data: no cube, callback or symbolic array anywhere inside. */
function isPlainJson(value: Value): boolean {
  if (value === null || typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string') return true;
  if (Array.isArray(value)) return value.every(isPlainJson);
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  return Object.values(value).every((v) => isPlainJson(v as Value));
}
