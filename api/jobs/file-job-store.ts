import { appendFile, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAtomic } from '../../common/files.js';
import { LOG_LEVEL_ORDER, type JobRecord, type LogEntry } from './job-record.js';
import { DEFAULT_LOG_PAGE, type JobStore } from './job-store.js';

export const JOBS_DIR = 'jobs';
const RECORD_FILE = 'job.json';
const LOG_FILE = 'logs.jsonl';

/**
 * Job records as JSON files (written atomically) and logs as JSON lines, under DATA_DIR/jobs/<id>/.
 * Updates of one job are serialized; records are cached in memory after the first read.
 */
export class FileJobStore implements JobStore {
  private readonly cache = new Map<string, JobRecord>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly logCounts = new Map<string, number>();
  private loaded = false;

  constructor(private readonly dataDir: string) {}

  private dir(id: string): string {
    return join(this.dataDir, JOBS_DIR, id);
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    let ids: string[] = [];
    try {
      ids = await readdir(join(this.dataDir, JOBS_DIR));
    } catch {
      return;
    }
    for (const id of ids) {
      try {
        this.cache.set(id, JSON.parse(await readFile(join(this.dir(id), RECORD_FILE), 'utf8')) as JobRecord);
      } catch {
        // A directory without a complete record (crash during create) is not a job.
      }
    }
  }

  private locked<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(id) ?? Promise.resolve();
    const next = previous.then(work, work);
    this.locks.set(id, next.catch(() => undefined));
    return next;
  }

  async create(record: JobRecord): Promise<void> {
    await this.load();
    await this.locked(record.id, async () => {
      await mkdir(this.dir(record.id), { recursive: true });
      await writeAtomic(join(this.dir(record.id), RECORD_FILE), JSON.stringify(record));
      this.cache.set(record.id, record);
    });
  }

  async get(id: string): Promise<JobRecord | undefined> {
    await this.load();
    return this.cache.get(id);
  }

  async list(owner: string): Promise<JobRecord[]> {
    await this.load();
    return [...this.cache.values()].filter((r) => r.owner === owner).sort((a, b) => b.created.localeCompare(a.created));
  }

  async all(): Promise<JobRecord[]> {
    await this.load();
    return [...this.cache.values()];
  }

  async update(id: string, change: (record: JobRecord) => JobRecord | null): Promise<JobRecord | undefined> {
    await this.load();
    return this.locked(id, async () => {
      const current = this.cache.get(id);
      if (!current) return undefined;
      const next = change(structuredClone(current));
      if (next === null) return current;
      await writeAtomic(join(this.dir(id), RECORD_FILE), JSON.stringify(next));
      this.cache.set(id, next);
      return next;
    });
  }

  async delete(id: string): Promise<void> {
    await this.load();
    await this.locked(id, async () => {
      this.cache.delete(id);
      this.logCounts.delete(id);
      await rm(this.dir(id), { recursive: true, force: true });
    });
  }

  async appendLog(id: string, entry: Omit<LogEntry, 'id'>): Promise<LogEntry> {
    await this.load();
    return this.locked(`${id}#log`, async () => {
      let count = this.logCounts.get(id);
      if (count === undefined) count = (await this.readLogs(id)).length;
      const full: LogEntry = { id: String(count + 1), ...entry };
      await mkdir(this.dir(id), { recursive: true });
      await appendFile(join(this.dir(id), LOG_FILE), `${JSON.stringify(full)}\n`);
      this.logCounts.set(id, count + 1);
      return full;
    });
  }

  async logs(id: string, options: { offset?: string | null; minLevel?: LogEntry['level']; limit?: number }): Promise<{ entries: LogEntry[]; next: string | null }> {
    const all = await this.readLogs(id);
    const start = options.offset ? all.findIndex((e) => e.id === options.offset) + 1 : 0;
    const min = LOG_LEVEL_ORDER[options.minLevel ?? 'debug'];
    const limit = options.limit ?? DEFAULT_LOG_PAGE;
    const entries: LogEntry[] = [];
    let i = start;
    for (; i < all.length && entries.length < limit; i++) {
      if (LOG_LEVEL_ORDER[all[i]!.level] >= min) entries.push(all[i]!);
    }
    const more = all.slice(i).some((e) => LOG_LEVEL_ORDER[e.level] >= min);
    return { entries, next: more && entries.length > 0 ? entries[entries.length - 1]!.id : null };
  }

  async close(): Promise<void> {
    await Promise.all(this.locks.values());
  }

  private async readLogs(id: string): Promise<LogEntry[]> {
    let text: string;
    try {
      text = await readFile(join(this.dir(id), LOG_FILE), 'utf8');
    } catch {
      return [];
    }
    const entries: LogEntry[] = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        entries.push(JSON.parse(line) as LogEntry);
      } catch {
        // A line cut by a crash mid-write: skip it, keep the rest.
      }
    }
    return entries;
  }
}
