import { DeliverPolicy, DiscardPolicy, type JetStreamClient, type JetStreamManager, JSONCodec, type KV, type NatsConnection, NatsError, RetentionPolicy, StorageType } from 'nats';
import { LOG_LEVEL_ORDER, type JobRecord, type LogEntry } from './job-record.js';
import { DEFAULT_LOG_PAGE, type JobStore } from './job-store.js';
import { ensureStream } from './jetstream-setup.js';

/** Key-value bucket of job records, one key per job id. */
export const JOB_BUCKET = 'openeo_jobs';
/** Stream of job log entries, one subject per job. */
export const JOB_LOG_STREAM = 'OPENEO_JOB_LOGS';
/** Log entries of job `<id>` are published on `openeo.joblog.<id>` (outside `openeo.job.>`, which the event stream holds). */
export const JOB_LOG_SUBJECT_PREFIX = 'openeo.joblog';
/**
 * Attempts of an optimistic update before giving up: each retry means another writer changed
 * the record in between, which happens a handful of times at most (progress beside a status).
 */
export const MAX_UPDATE_ATTEMPTS = 50;
/** Log entries fetched per request while reading a job's log. */
export const LOG_FETCH_BATCH = 500;
/** Longest wait for a log fetch that expects more entries (ms). */
export const LOG_FETCH_TIMEOUT_MS = 5_000;

/** JetStream's API error code for "no message found" (an empty log). */
const NO_MESSAGE_FOUND = 10037;

const codec = JSONCodec();

function logSubject(jobId: string): string {
  return `${JOB_LOG_SUBJECT_PREFIX}.${jobId}`;
}

/** A revision conflict of KV create/update: another writer was first. */
function isConflict(error: unknown): boolean {
  return error instanceof NatsError && (error.api_error?.err_code === 10071 || /wrong last sequence/i.test(error.message));
}

/**
 * Job records in a JetStream key-value bucket (updates are compare-and-set on the revision, so
 * concurrent writers never lose a change) and logs in a JetStream stream (entry ids are stream
 * sequence numbers: increasing, so `offset` pages through them). Chosen when NATS_URL is set:
 * records and logs then survive the API and live wherever NATS keeps its data.
 */
export class JetStreamJobStore implements JobStore {
  private constructor(
    private readonly kv: KV,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
  ) {}

  static async open(connection: NatsConnection): Promise<JetStreamJobStore> {
    const jsm = await connection.jetstreamManager();
    const js = connection.jetstream();
    const kv = await js.views.kv(JOB_BUCKET, { history: 1, storage: StorageType.File });
    await ensureStream(jsm, {
      name: JOB_LOG_STREAM,
      subjects: [`${JOB_LOG_SUBJECT_PREFIX}.*`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
    });
    return new JetStreamJobStore(kv, js, jsm);
  }

  async create(record: JobRecord): Promise<void> {
    await this.kv.create(record.id, codec.encode(record));
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const entry = await this.kv.get(id);
    if (!entry || entry.operation !== 'PUT') return undefined;
    return entry.json<JobRecord>();
  }

  async list(owner: string): Promise<JobRecord[]> {
    return (await this.all()).filter((r) => r.owner === owner).sort((a, b) => b.created.localeCompare(a.created));
  }

  async all(): Promise<JobRecord[]> {
    const ids: string[] = [];
    for await (const key of await this.kv.keys()) ids.push(key);
    const records = await Promise.all(ids.map((id) => this.get(id)));
    return records.filter((r): r is JobRecord => r !== undefined);
  }

  async update(id: string, change: (record: JobRecord) => JobRecord | null): Promise<JobRecord | undefined> {
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const entry = await this.kv.get(id);
      if (!entry || entry.operation !== 'PUT') return undefined;
      const current = entry.json<JobRecord>();
      const next = change(structuredClone(current));
      if (next === null) return current;
      try {
        await this.kv.update(id, codec.encode(next), entry.revision);
        return next;
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
    }
    throw new Error(`job ${id}: the record kept changing during ${MAX_UPDATE_ATTEMPTS} update attempts`);
  }

  async delete(id: string): Promise<void> {
    await this.kv.purge(id);
    await this.jsm.streams.purge(JOB_LOG_STREAM, { filter: logSubject(id) });
  }

  async appendLog(id: string, entry: Omit<LogEntry, 'id'>): Promise<LogEntry> {
    const ack = await this.js.publish(logSubject(id), codec.encode(entry));
    return { id: String(ack.seq), ...entry };
  }

  async logs(id: string, options: { offset?: string | null; minLevel?: LogEntry['level']; limit?: number }): Promise<{ entries: LogEntry[]; next: string | null }> {
    const subject = logSubject(id);
    let last: number;
    try {
      last = (await this.jsm.streams.getMessage(JOB_LOG_STREAM, { last_by_subj: subject })).seq;
    } catch (error) {
      if (error instanceof NatsError && error.api_error?.err_code === NO_MESSAGE_FOUND) return { entries: [], next: null };
      throw error;
    }
    const offset = Number(options.offset);
    const start = options.offset && Number.isInteger(offset) && offset > 0 ? offset + 1 : 1;
    if (start > last) return { entries: [], next: null };
    const min = LOG_LEVEL_ORDER[options.minLevel ?? 'debug'];
    const limit = options.limit ?? DEFAULT_LOG_PAGE;
    const consumer = await this.js.consumers.get(JOB_LOG_STREAM, { filterSubjects: subject, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start });
    const entries: LogEntry[] = [];
    let more = false;
    let seq = start - 1;
    // Reads until the last entry that existed when the request came, or until one matching entry beyond the page shows there is a next page.
    while (seq < last && !more) {
      const batch = await consumer.fetch({ max_messages: LOG_FETCH_BATCH, expires: LOG_FETCH_TIMEOUT_MS });
      let received = 0;
      for await (const message of batch) {
        received++;
        seq = message.seq;
        const entry = codec.decode(message.data) as Omit<LogEntry, 'id'>;
        if (LOG_LEVEL_ORDER[entry.level] >= min) {
          if (entries.length < limit) entries.push({ id: String(message.seq), ...entry });
          else more = true;
        }
        if (seq >= last || more) break;
      }
      if (received === 0) break;
    }
    await consumer.delete().catch(() => undefined);
    return { entries, next: more ? entries[entries.length - 1]!.id : null };
  }

  async close(): Promise<void> {
    // The connection belongs to whoever opened the store.
  }
}
