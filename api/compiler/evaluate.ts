import { OpenEOError } from '../../common/errors.js';
import type { ProcessRegistry } from '../processes/registry.js';
import type { EvaluationContext } from '../processes/types.js';
import { isCallback, isFromNode, isFromParameter, orderNodes, type ProcessGraph, type ProcessNode, referencedNodes } from './process-graph.js';
import { materialize } from './cube-ops.js';
import { CallbackValue, CubeValue, type Value } from './values.js';

/** How deep callbacks may nest (a reducer inside an apply inside a reducer …): bounds malicious graphs. */
export const MAX_CALLBACK_DEPTH = 16;

/**
 * Evaluates a process graph node by node, in dependency order: arguments are resolved, checked
 * against the process definition, and passed to the process's implementation. Errors name the
 * node and process they come from.
 */
export class GraphEvaluator {
  constructor(private readonly registry: ProcessRegistry) {}

  /** Evaluates every node; returns the value of the result node and of all nodes by id. */
  async run(graph: ProcessGraph, context: Omit<EvaluationContext, 'callCallback'>, parameters: Record<string, Value> = {}, depth = 0): Promise<{ result: Value; values: Map<string, Value> }> {
    if (depth > MAX_CALLBACK_DEPTH) throw new OpenEOError('ProcessGraphComplexity', `child process graphs nest deeper than ${MAX_CALLBACK_DEPTH} levels`);
    const where = depth === 0 ? 'the process graph' : 'a child process graph';
    const order = orderNodes(graph, where);
    // Check every process and its arguments before evaluating anything.
    for (const id of order) this.check(id, graph[id]!, where);
    const fullContext: EvaluationContext = {
      ...context,
      callCallback: async (callback, params) => (await this.run(callback.graph, context, { ...callback.scope, ...params }, depth + 1)).result,
    };
    const values = new Map<string, Value>();
    const consumers = countConsumers(graph);
    let result: Value = null;
    for (const id of order) {
      const node = graph[id]!;
      const impl = this.registry.get(node.process_id)!;
      const args: Record<string, Value> = {};
      for (const param of impl.definition.parameters) {
        if (node.arguments && param.name in node.arguments) {
          args[param.name] = this.resolve(node.arguments[param.name], values, parameters, id);
        } else if (param.default !== undefined) {
          args[param.name] = param.default as Value;
        }
      }
      try {
        let value = await impl.evaluate(args, fullContext);
        // A cube used by several nodes is computed once (as tasks) instead of once per use:
        // fusion stops where results are shared, as in Dask's blockwise fusion.
        if (value instanceof CubeValue && (consumers.get(id) ?? 0) > 1) value = new CubeValue(materialize(value.cube, context.builder));
        values.set(id, value);
        if (node.result === true) result = value;
      } catch (error) {
        throw withNode(error, id, node.process_id);
      }
    }
    return { result, values };
  }

  private check(id: string, node: ProcessNode, where: string): void {
    const impl = this.registry.get(node.process_id);
    if (!impl) {
      throw new OpenEOError('ProcessUnsupported', `process "${node.process_id}" (node "${id}" in ${where}) is not supported; GET /processes lists the supported ones`);
    }
    const args = node.arguments ?? {};
    for (const param of impl.definition.parameters) {
      if (!param.optional && !(param.name in args)) {
        throw new OpenEOError('ProcessParameterMissing', `process "${node.process_id}" (node "${id}") is missing its required parameter "${param.name}"`);
      }
    }
    for (const name of Object.keys(args)) {
      if (!impl.definition.parameters.some((p) => p.name === name)) {
        throw new OpenEOError(
          'ProcessParameterUnsupported',
          `process "${node.process_id}" (node "${id}") has no parameter "${name}"; its parameters are ${impl.definition.parameters.map((p) => p.name).join(', ')}`,
        );
      }
    }
  }

  private resolve(raw: unknown, values: Map<string, Value>, parameters: Record<string, Value>, nodeId: string): Value {
    if (isFromNode(raw)) return values.get(raw.from_node) ?? null;
    if (isFromParameter(raw)) {
      if (!(raw.from_parameter in parameters)) {
        throw new OpenEOError('ProcessParameterInvalid', `node "${nodeId}" refers to parameter "${raw.from_parameter}", which is not defined here`);
      }
      return parameters[raw.from_parameter]!;
    }
    if (isCallback(raw)) return new CallbackValue(raw.process_graph, parameters);
    if (Array.isArray(raw)) return raw.map((v) => this.resolve(v, values, parameters, nodeId));
    if (typeof raw === 'object' && raw !== null) {
      const out: Record<string, Value> = {};
      for (const [k, v] of Object.entries(raw)) out[k] = this.resolve(v, values, parameters, nodeId);
      return out;
    }
    return raw as Value;
  }
}

/** How many nodes use each node's value. */
function countConsumers(graph: ProcessGraph): Map<string, number> {
  const counts = new Map<string, number>();
  for (const node of Object.values(graph)) {
    for (const ref of new Set(referencedNodes(node.arguments ?? {}))) counts.set(ref, (counts.get(ref) ?? 0) + 1);
  }
  return counts;
}

/** Adds the node to an error's message once (callbacks re-throw through their parent node). */
function withNode(error: unknown, nodeId: string, processId: string): unknown {
  if (!(error instanceof OpenEOError)) return error;
  if (error.message.includes('(node "')) return error;
  return new OpenEOError(error.code, `${error.message} (node "${nodeId}", process "${processId}")`, { cause: error.cause, details: error.details });
}
