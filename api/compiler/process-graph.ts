import { OpenEOError } from '../../common/errors.js';

/** The openEO process graph as users send it, validated for structure before anything runs. */

export interface ProcessNode {
  process_id: string;
  namespace?: string | null;
  arguments: Record<string, unknown>;
  result?: boolean;
  description?: string | null;
}

export type ProcessGraph = Record<string, ProcessNode>;

export interface FromNode {
  from_node: string;
}
export interface FromParameter {
  from_parameter: string;
}
export interface CallbackArgument {
  process_graph: ProcessGraph;
}

export function isFromNode(value: unknown): value is FromNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as FromNode).from_node === 'string' && Object.keys(value).length === 1;
}

export function isFromParameter(value: unknown): value is FromParameter {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as FromParameter).from_parameter === 'string' && Object.keys(value).length === 1;
}

export function isCallback(value: unknown): value is CallbackArgument {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as CallbackArgument).process_graph === 'object' && (value as CallbackArgument).process_graph !== null;
}

/** Node ids referenced by `from_node` anywhere in a value (not inside nested callbacks). */
export function referencedNodes(value: unknown, into: string[] = []): string[] {
  if (isFromNode(value)) into.push(value.from_node);
  else if (isCallback(value)) return into;
  else if (Array.isArray(value)) for (const v of value) referencedNodes(v, into);
  else if (typeof value === 'object' && value !== null) for (const v of Object.values(value)) referencedNodes(v, into);
  return into;
}

/**
 * Checks the graph's shape (nodes, exactly one result node, references to existing nodes, no
 * cycles) and returns the node ids in an order where each comes after the nodes it uses.
 */
export function orderNodes(graph: unknown, where = 'the process graph'): string[] {
  if (typeof graph !== 'object' || graph === null || Array.isArray(graph)) {
    throw new OpenEOError('ProcessGraphInvalid', `${where} must be an object of nodes`);
  }
  const nodes = graph as Record<string, unknown>;
  const ids = Object.keys(nodes);
  if (ids.length === 0) throw new OpenEOError('ProcessGraphInvalid', `${where} has no nodes`);
  const results: string[] = [];
  for (const id of ids) {
    const node = nodes[id] as ProcessNode;
    if (typeof node !== 'object' || node === null || typeof node.process_id !== 'string' || node.process_id === '') {
      throw new OpenEOError('ProcessGraphInvalid', `node "${id}" in ${where} has no process_id`);
    }
    if (node.arguments !== undefined && (typeof node.arguments !== 'object' || node.arguments === null || Array.isArray(node.arguments))) {
      throw new OpenEOError('ProcessGraphInvalid', `node "${id}" in ${where} has arguments that are not an object`);
    }
    if (node.result === true) results.push(id);
  }
  if (results.length !== 1) {
    throw new OpenEOError('ProcessGraphInvalid', results.length === 0 ? `${where} has no result node (set "result": true on one node)` : `${where} has ${results.length} result nodes (${results.join(', ')}); exactly one is allowed`);
  }
  const deps = new Map<string, string[]>();
  for (const id of ids) {
    const refs = referencedNodes((nodes[id] as ProcessNode).arguments ?? {});
    for (const ref of refs) {
      if (!(ref in nodes)) throw new OpenEOError('ProcessGraphInvalid', `node "${id}" in ${where} refers to node "${ref}", which does not exist`);
    }
    deps.set(id, refs);
  }
  // Depth-first topological order, deterministic: nodes in the order they were written.
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, path: string[]): void => {
    const s = state.get(id);
    if (s === 'done') return;
    if (s === 'visiting') throw new OpenEOError('ProcessGraphInvalid', `${where} has a cycle: ${[...path, id].join(' → ')}`);
    state.set(id, 'visiting');
    for (const dep of deps.get(id)!) visit(dep, [...path, id]);
    state.set(id, 'done');
    order.push(id);
  };
  for (const id of ids) visit(id, []);
  return order;
}

export function resultNode(graph: ProcessGraph): string {
  return Object.keys(graph).find((id) => graph[id]!.result === true)!;
}
