import type { IRNode } from '../../common/ir.js';

/**
 * Names for sub-programs by their structure: two nodes get the same key when they compute the
 * same thing (same operation, same parameters, children with the same keys). Each node is
 * serialized once with its children replaced by their keys, so keying a whole program costs
 * time linear in its size; keying each node by its full JSON would cost its size times its depth.
 */
export class StructuralKeys {
  private readonly interned = new Map<string, string>();
  private readonly byNode = new WeakMap<object, string>();

  key(node: IRNode): string {
    const known = this.byNode.get(node);
    if (known !== undefined) return known;
    const fields: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(node)) {
      if (isNode(value)) fields[name] = { '#': this.key(value) };
      else if (Array.isArray(value) && value.length > 0 && value.every(isNode)) fields[name] = value.map((child) => ({ '#': this.key(child) }));
      else fields[name] = value;
    }
    const text = JSON.stringify(fields, numbersAsText);
    let key = this.interned.get(text);
    if (key === undefined) {
      key = `k${this.interned.size}`;
      this.interned.set(text, key);
    }
    this.byNode.set(node, key);
    return key;
  }
}

function isNode(value: unknown): value is IRNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { op?: unknown }).op === 'string';
}

/** NaN and the infinities are parameters like any number (JSON would write them as null). */
function numbersAsText(_name: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? `#${String(value)}` : value;
}
