import type { IRNode } from '../../common/ir.js';

/**
 * Rewrites that remove copies without changing results: picking one part of a stack is that
 * part (loads stack bands that callbacks then pick one by one), and a pick commutes with adding
 * another dimension. Applied once per program before evaluation.
 */
export function simplify(node: IRNode): IRNode {
  switch (node.op) {
    case 'select': {
      const x = simplify(node.x);
      if (x.op === 'stack' && x.dim === node.dim && node.index >= 0 && node.index < x.parts.length) return x.parts[node.index]!;
      if (x.op === 'expand' && x.dim !== node.dim) return { op: 'expand', dim: x.dim, x: simplify({ op: 'select', dim: node.dim, index: node.index, x: x.x }) };
      return x === node.x ? node : { ...node, x };
    }
    default: {
      let changed = false;
      const copy: Record<string, unknown> = { ...node };
      for (const [key, value] of Object.entries(node)) {
        if (key === 'parts' && Array.isArray(value)) {
          const parts = (value as IRNode[]).map(simplify);
          if (parts.some((p, i) => p !== (value as IRNode[])[i])) {
            copy.parts = parts;
            changed = true;
          }
        } else if (value !== null && typeof value === 'object' && typeof (value as { op?: unknown }).op === 'string') {
          const child = simplify(value as IRNode);
          if (child !== value) {
            copy[key] = child;
            changed = true;
          }
        }
      }
      return changed ? (copy as IRNode) : node;
    }
  }
}
