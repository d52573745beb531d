/** A batch job as the API stores it. */

export type JobStatus = 'created' | 'queued' | 'running' | 'canceled' | 'finished' | 'error';

export const ACTIVE_STATUSES: readonly JobStatus[] = ['queued', 'running'];

export interface ResultFile {
  name: string;
  /** Path relative to DATA_DIR. */
  path: string;
  bytes: number;
  type: string;
}

export interface JobRecord {
  id: string;
  owner: string;
  title: string | null;
  description: string | null;
  /** The process as submitted: `{process_graph, …}`. */
  process: Record<string, unknown>;
  plan: string | null;
  budget: number | null;
  logLevel: 'debug' | 'info' | 'warning' | 'error';
  status: JobStatus;
  /** 0–100, from finished tasks over all tasks. */
  progress: number;
  created: string;
  updated: string;
  /** Incremented on each start; events of older runs are ignored. */
  run: number;
  tasksDone: number;
  tasksTotal: number;
  startedAt: string | null;
  finishedAt: string | null;
  error: { code: string; message: string } | null;
  results: ResultFile[] | null;
  /** What the run saves: format, grid and time span (from the compiled graph). */
  outputs: { format: string; grid: { epsg: number; transform: number[]; width: number; height: number } | null; timeRange: [string, string] | null }[] | null;
}

export interface LogEntry {
  id: string;
  level: 'debug' | 'info' | 'warning' | 'error';
  message: string;
  time: string;
  code?: string;
  data?: unknown;
}

export const LOG_LEVEL_ORDER: Record<LogEntry['level'], number> = { debug: 0, info: 1, warning: 2, error: 3 };
