/**
 * The scheduler knows a run of a job as `<job id>~<run>`: a restarted job is a new run, and
 * late events of an older run are recognised and ignored.
 */
export function clusterJobId(jobId: string, run: number): string {
  return `${jobId}~${run}`;
}

export function parseClusterJobId(id: string): { jobId: string; run: number } | null {
  const tilde = id.lastIndexOf('~');
  if (tilde <= 0) return null;
  const run = Number(id.slice(tilde + 1));
  return Number.isInteger(run) ? { jobId: id.slice(0, tilde), run } : null;
}
