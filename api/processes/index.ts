import { ARRAY_PROCESSES } from './arrays.js';
import { CUBE_PROCESSES } from './cubes.js';
import { ProcessRegistry } from './registry.js';
import { SAVE_PROCESSES } from './save.js';
import { SCALAR_PROCESSES } from './scalar.js';

export { ProcessRegistry } from './registry.js';
export { OUTPUT_FORMATS, resolveFormat } from './save.js';
export type { EvaluationContext, JobTarget, ProcessDefinition, ProcessImplementation } from './types.js';

/** The processes this back-end offers. */
export function defaultProcessRegistry(): ProcessRegistry {
  return new ProcessRegistry().register(...SCALAR_PROCESSES, ...ARRAY_PROCESSES, ...CUBE_PROCESSES, ...SAVE_PROCESSES);
}
