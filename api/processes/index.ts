import { AGGREGATE_PROCESSES } from './aggregate.js';
import { ARRAY_PROCESSES } from './arrays.js';
import { CLIMATE_PROCESSES } from './climate.js';
import { COMPARISON_PROCESSES } from './comparison.js';
import { CUBE_PROCESSES } from './cubes.js';
import { DIMENSION_PROCESSES } from './dimensions.js';
import { FILTER_PROCESSES } from './filters.js';
import { inspectProcess } from './inspect.js';
import { applyKernelProcess } from './kernels.js';
import { MASK_PROCESSES } from './masks.js';
import { RESAMPLE_PROCESSES } from './resample.js';
import { mergeCubesProcess } from './merge.js';
import { LOGIC_PROCESSES } from './logic.js';
import { MATH_PROCESSES } from './math.js';
import { ProcessRegistry } from './registry.js';
import { SAVE_PROCESSES } from './save.js';
import { STATISTICS_PROCESSES } from './statistics.js';
import { TEXT_PROCESSES } from './text.js';
import { TRIGONOMETRY_PROCESSES } from './trigonometry.js';

export { ProcessRegistry } from './registry.js';
export { OUTPUT_FORMATS, resolveFormat } from './save.js';
export type { EvaluationContext, JobTarget, ProcessDefinition, ProcessImplementation } from './types.js';

/** The processes this back-end offers. */
export function defaultProcessRegistry(): ProcessRegistry {
  return new ProcessRegistry().register(
    ...MATH_PROCESSES,
    ...TRIGONOMETRY_PROCESSES,
    ...COMPARISON_PROCESSES,
    ...LOGIC_PROCESSES,
    ...ARRAY_PROCESSES,
    ...STATISTICS_PROCESSES,
    ...TEXT_PROCESSES,
    ...CUBE_PROCESSES,
    ...DIMENSION_PROCESSES,
    ...FILTER_PROCESSES,
    ...MASK_PROCESSES,
    mergeCubesProcess,
    applyKernelProcess,
    ...AGGREGATE_PROCESSES,
    ...RESAMPLE_PROCESSES,
    ...CLIMATE_PROCESSES,
    inspectProcess,
    ...SAVE_PROCESSES,
  );
}
