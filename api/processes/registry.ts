import type { ProcessDefinition, ProcessImplementation } from './types.js';

/** The processes this back-end offers; only these can appear in a process graph. */
export class ProcessRegistry {
  private readonly processes = new Map<string, ProcessImplementation>();

  register(...implementations: ProcessImplementation[]): this {
    for (const impl of implementations) {
      if (this.processes.has(impl.definition.id)) throw new Error(`process ${impl.definition.id} registered twice`);
      this.processes.set(impl.definition.id, impl);
    }
    return this;
  }

  get(id: string): ProcessImplementation | undefined {
    return this.processes.get(id);
  }

  has(id: string): boolean {
    return this.processes.has(id);
  }

  definitions(): ProcessDefinition[] {
    return [...this.processes.values()].map((p) => p.definition).sort((a, b) => a.id.localeCompare(b.id));
  }
}
