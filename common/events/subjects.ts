/** Subject names; one place so publishers and consumers cannot drift apart. */

export const SUBJECT_PREFIX = 'openeo';

export type JobEventKind = 'status' | 'progress' | 'log';

export function jobSubject(jobId: string, kind: JobEventKind): string {
  return `${SUBJECT_PREFIX}.job.${jobId}.${kind}`;
}

/** Every job event of every job. */
export const ALL_JOB_EVENTS = `${SUBJECT_PREFIX}.job.>`;

export function workerTasksSubject(workerId: string): string {
  return `${SUBJECT_PREFIX}.worker.${workerId}.tasks`;
}

export const ALL_WORKER_EVENTS = `${SUBJECT_PREFIX}.worker.>`;

/** Splits `openeo.job.<id>.<kind>`; null for other subjects. */
export function parseJobSubject(subject: string): { jobId: string; kind: JobEventKind } | null {
  const parts = subject.split('.');
  if (parts.length !== 4 || parts[0] !== SUBJECT_PREFIX || parts[1] !== 'job') return null;
  const kind = parts[3];
  if (kind !== 'status' && kind !== 'progress' && kind !== 'log') return null;
  return { jobId: parts[2]!, kind };
}
