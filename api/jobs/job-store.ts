import type { JobRecord, LogEntry } from './job-record.js';

/** Log entries returned per page when the client gives no limit. */
export const DEFAULT_LOG_PAGE = 1_000;

/**
 * Durable job records and logs. Implementations: files under DATA_DIR (embedded default) and
 * JetStream (when NATS_URL is set); both pass the same conformance tests.
 */
export interface JobStore {
  create(record: JobRecord): Promise<void>;
  get(id: string): Promise<JobRecord | undefined>;
  /** Jobs of one owner, newest first. */
  list(owner: string): Promise<JobRecord[]>;
  /** Every job (start-up recovery). */
  all(): Promise<JobRecord[]>;
  /** Applies `change` to the current record atomically; returns the new record (undefined if gone). */
  update(id: string, change: (record: JobRecord) => JobRecord | null): Promise<JobRecord | undefined>;
  delete(id: string): Promise<void>;
  appendLog(id: string, entry: Omit<LogEntry, 'id'>): Promise<LogEntry>;
  /** Log entries after `offset` (an entry id), at `minLevel` or above, at most `limit`. */
  logs(id: string, options: { offset?: string | null; minLevel?: LogEntry['level']; limit?: number }): Promise<{ entries: LogEntry[]; next: string | null }>;
  close(): Promise<void>;
}
