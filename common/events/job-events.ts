/** Payloads of the job events the scheduler and workers publish and the API consumes. */

export type ClusterJobStatus = 'running' | 'finished' | 'error' | 'canceled';

export interface JobStatusEvent {
  jobId: string;
  status: ClusterJobStatus;
  done: number;
  total: number;
  /** ISO time the scheduler saw the change. */
  at: string;
  error?: { code: string; message: string };
  /** Sink results (written files) when finished. */
  outputs?: { key: string; meta: unknown }[];
}

export interface JobProgressEvent {
  jobId: string;
  done: number;
  total: number;
  at: string;
}

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

export interface JobLogEvent {
  jobId: string;
  level: LogLevel;
  message: string;
  at: string;
  /** Who logged it: `scheduler` or a worker name. */
  source: string;
  data?: unknown;
}

/** Batched per-worker task summary (never one event per task). */
export interface WorkerTasksEvent {
  workerId: string;
  workerName: string;
  at: string;
  finished: number;
  failed: number;
  executing: number;
}
