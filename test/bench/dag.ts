import { compileProcess } from '../../api/compiler/compile.js';
import { defaultProcessRegistry } from '../../api/processes/index.js';
import type { IRNode } from '../../common/ir.js';
import { Catalog } from '../../ingest/catalog.js';
import { StructuralKeys } from '../../worker/ir/structural-keys.js';
import { type BenchResult, result } from './result.js';
import { benchDataDir, ensureBenchData, ndviWorkload, sstWorkload } from './workloads.js';

/**
 * Task graphs of the workloads: how many tasks the compiler makes, against how many a plan with
 * one task per operation per chunk would make (the operations inside the fused chunk programs,
 * each counted once per program, plus the output tasks). Fewer tasks is less scheduling and
 * fewer intermediate chunks held.
 */
export async function benchDag(): Promise<BenchResult[]> {
  const dataDir = benchDataDir();
  await ensureBenchData(dataDir);
  const results: BenchResult[] = [];
  for (const [name, workload] of [['NDVI max+mean composite', ndviWorkload], ['SST North-Atlantic mean', sstWorkload]] as const) {
    const compiled = await compileProcess(workload(), { catalog: new Catalog(dataDir), registry: defaultProcessRegistry(), target: { jobId: 'dag', outputDir: 'bench/out/dag' } });
    let unfused = 0;
    for (const task of compiled.tasks) unfused += task.op === 'cube.eval' ? operationsOf((task.args as { program: IRNode }).program) : 1;
    const byOp = Object.entries(compiled.tasksByOp).map(([op, n]) => `${n} ${op}`).join(', ');
    results.push(result(`${name}: tasks (one per operation and chunk: ${unfused})`, compiled.tasks.length, 'tasks', unfused, false, byOp));
  }
  return results;
}

/** Distinct operations of a chunk program (inputs and constants aside). */
function operationsOf(program: IRNode): number {
  const keys = new StructuralKeys();
  const seen = new Set<string>();
  let operations = 0;
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (typeof value !== 'object' || value === null) return;
    const node = value as IRNode;
    if (typeof node.op === 'string') {
      const key = keys.key(node);
      if (seen.has(key)) return;
      seen.add(key);
      if (node.op !== 'input' && node.op !== 'const') operations++;
    }
    for (const child of Object.values(value)) visit(child);
  };
  visit(program);
  return operations;
}
