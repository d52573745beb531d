/**
 * Worker memory thresholds, as fractions of the worker's memory limit (Dask's
 * `distributed.worker.memory.*`): above SPILL the worker moves its least recently used chunks
 * to disk; above PAUSE it takes no new tasks until memory falls; above REFUSE it hands back
 * what it has not started and fails tasks that still allocate, so a job that needs more than
 * the cluster has ends with a message instead of a killed process.
 */
export const MEMORY_SPILL_FRACTION = 0.7;
export const MEMORY_PAUSE_FRACTION = 0.8;
export const MEMORY_REFUSE_FRACTION = 0.95;
/** A paused worker resumes below PAUSE × this, so it does not flap around the threshold. */
export const MEMORY_RESUME_HYSTERESIS = 0.9;
