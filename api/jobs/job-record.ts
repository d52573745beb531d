/** A batch job as the API stores it. */

export type JobStatus = 'created' | 'queued' | 'running' | 'canceled' | 'finished' | 'error';

export const ACTIVE_STATUSES: readonly JobStatus[] = ['queued', 'running'];

/** Statistics of a band as the writer tasks computed them (STAC raster extension's `statistics`). */
export interface ResultBandStatistics {
  minimum?: number;
  maximum?: number;
  mean?: number;
  stddev?: number;
  valid_percent: number;
}

/** A written result file, as the writer kernels report it (`WrittenFile` on the workers). */
export interface ResultFile {
  name: string;
  /** Path relative to DATA_DIR. */
  path: string;
  bytes: number;
  /** Media type. */
  type: string;
  /** STAC asset roles; `['data']` when absent. */
  roles?: string[];
  bands?: { name: string; data_type: string; nodata: 'nan' | number | null; statistics: ResultBandStatistics | null }[];
  /** The file's own grid when it differs from the saved cube's (a quick-look). */
  grid?: { epsg: number; transform: number[]; width: number; height: number };
  description?: string;
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
  /** Incremented on each start (and automatic resubmission); events of older runs are ignored. */
  run: number;
  /**
   * Automatic resubmissions of the current start after the scheduler lost the job (it restarted).
   * Absent in records written before resubmission existed: read as 0.
   */
  resumes?: number;
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
