import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { Logger } from '../../common/logger.js';
import { systemClock, type Clock } from './clock.js';

/**
 * What a person (a progress bar on a terminal) or a log collector (JSON lines otherwise) sees of
 * the downloads: files done of planned, bytes, transfer rate and the estimated time left.
 */

/** Window over which the transfer rate is averaged: 10 s, steady yet quick to follow a change. */
export const RATE_WINDOW_MS = 10_000;

/** Interval between two progress lines in JSON output: 5 s, a readable log for a long download. */
export const PROGRESS_LOG_INTERVAL_MS = 5_000;

export interface FileOutcome {
  bytes: number;
  skipped: boolean;
  resumed: boolean;
}

export interface ProgressReporter {
  /** Adds `count` files to the number planned. */
  plan(count: number): void;
  /** Bytes of one file on disk so far, and its size when known. */
  fileProgress(label: string, bytes: number, total: number | null): void;
  fileDone(label: string, outcome: FileOutcome): void;
  retrying(label: string, attempt: number, delayMs: number, reason: string): void;
  /** A line for the person running the command (above the bar on a terminal). */
  note(message: string): void;
  close(): void;
}

export interface ProgressSnapshot {
  filesDone: number;
  filesPlanned: number;
  bytesDone: number;
  /** Known sizes plus an estimate for the files whose size is not known yet; null before any is known. */
  bytesTotal: number | null;
  bytesPerSecond: number;
  /** Seconds left at the current rate; null when it cannot be estimated. */
  etaSeconds: number | null;
}

/** The arithmetic behind both outputs, apart from any output. */
export class ProgressTally {
  private filesPlanned = 0;
  private filesDone = 0;
  private readonly files = new Map<string, { bytes: number; total: number | null }>();
  private readonly samples: { at: number; transferred: number }[] = [];
  private transferred = 0;

  constructor(private readonly clock: Clock = systemClock) {}

  plan(count: number): void {
    this.filesPlanned += count;
  }

  fileProgress(label: string, bytes: number, total: number | null): void {
    const file = this.files.get(label);
    if (!file) {
      // The first report of a file is what was already on disk (a resumed part): not transferred now.
      this.files.set(label, { bytes, total });
      return;
    }
    if (bytes > file.bytes) this.countTransfer(bytes - file.bytes);
    file.bytes = bytes;
    if (total !== null) file.total = total;
  }

  fileDone(label: string, bytes: number): void {
    this.filesDone++;
    const file = this.files.get(label);
    if (file) {
      file.bytes = bytes;
      file.total = bytes;
    } else {
      this.files.set(label, { bytes, total: bytes });
    }
  }

  snapshot(): ProgressSnapshot {
    let bytesDone = 0;
    let known = 0;
    let knownFiles = 0;
    for (const file of this.files.values()) {
      bytesDone += file.bytes;
      if (file.total !== null) {
        known += file.total;
        knownFiles++;
      }
    }
    const unknownFiles = Math.max(0, this.filesPlanned - knownFiles);
    const bytesTotal = knownFiles === 0 ? null : Math.max(bytesDone, known + (unknownFiles * known) / knownFiles);
    const bytesPerSecond = this.rate();
    const etaSeconds = bytesTotal !== null && bytesPerSecond > 0 ? Math.max(0, (bytesTotal - bytesDone) / bytesPerSecond) : null;
    return { filesDone: this.filesDone, filesPlanned: this.filesPlanned, bytesDone, bytesTotal, bytesPerSecond, etaSeconds };
  }

  private countTransfer(bytes: number): void {
    this.transferred += bytes;
    const at = this.clock.now();
    this.samples.push({ at, transferred: this.transferred });
    while (this.samples.length > 2 && at - this.samples[1]!.at > RATE_WINDOW_MS) this.samples.shift();
  }

  private rate(): number {
    if (this.samples.length < 2) return 0;
    const first = this.samples[0]!;
    const last = this.samples[this.samples.length - 1]!;
    const seconds = (Math.max(last.at, this.clock.now()) - first.at) / 1000;
    return seconds > 0 ? (last.transferred - first.transferred) / seconds : 0;
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '--';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A progress bar on stderr, for a person at a terminal. */
export class TerminalProgress implements ProgressReporter {
  private readonly tally: ProgressTally;
  private readonly bars: MultiBar;
  private bar: SingleBar | null = null;
  private closed = false;

  constructor(stream: NodeJS.WritableStream = process.stderr, clock: Clock = systemClock) {
    this.tally = new ProgressTally(clock);
    this.bars = new MultiBar(
      {
        stream,
        // {eta} is cli-progress's own estimate; ours (timeLeft) follows the transfer rate.
        format: '{bar} {percentage}% | {files} files | {bytes} | {rate} | ETA {timeLeft}',
        barsize: 24,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
      },
      Presets.shades_classic,
    );
  }

  plan(count: number): void {
    this.tally.plan(count);
    this.render();
  }

  fileProgress(label: string, bytes: number, total: number | null): void {
    this.tally.fileProgress(label, bytes, total);
    this.render();
  }

  fileDone(label: string, outcome: FileOutcome): void {
    this.tally.fileDone(label, outcome.bytes);
    if (outcome.skipped) this.note(`${label}: already downloaded`);
    else if (outcome.resumed) this.note(`${label}: resumed and completed`);
    this.render();
  }

  retrying(label: string, attempt: number, delayMs: number, reason: string): void {
    this.note(`${label}: ${reason}; attempt ${attempt} in ${(delayMs / 1000).toFixed(1)} s`);
  }

  note(message: string): void {
    this.bars.log(`${message}\n`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.bar) this.render();
    this.bars.stop();
  }

  private render(): void {
    const s = this.tally.snapshot();
    const payload = {
      files: `${s.filesDone}/${s.filesPlanned}`,
      bytes: s.bytesTotal === null ? formatBytes(s.bytesDone) : `${formatBytes(s.bytesDone)}/${formatBytes(s.bytesTotal)}`,
      rate: `${formatBytes(s.bytesPerSecond)}/s`,
      timeLeft: formatDuration(s.etaSeconds),
    };
    const total = Math.max(1, Math.round(s.bytesTotal ?? s.bytesDone));
    if (!this.bar) this.bar = this.bars.create(total, s.bytesDone, payload);
    else {
      this.bar.setTotal(total);
      this.bar.update(s.bytesDone, payload);
    }
  }
}

/** JSON log lines, for logs and scripts: one per file and one every PROGRESS_LOG_INTERVAL_MS. */
export class LogProgress implements ProgressReporter {
  private readonly tally: ProgressTally;
  private lastLine: number;
  private closed = false;

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    this.tally = new ProgressTally(clock);
    this.lastLine = clock.now();
  }

  plan(count: number): void {
    this.tally.plan(count);
  }

  fileProgress(label: string, bytes: number, total: number | null): void {
    this.tally.fileProgress(label, bytes, total);
    const now = this.clock.now();
    if (now - this.lastLine >= PROGRESS_LOG_INTERVAL_MS) {
      this.lastLine = now;
      this.logger.info({ event: 'download-progress', ...this.fields() }, 'downloading');
    }
  }

  fileDone(label: string, outcome: FileOutcome): void {
    this.tally.fileDone(label, outcome.bytes);
    const message = outcome.skipped ? 'already downloaded' : outcome.resumed ? 'downloaded (resumed)' : 'downloaded';
    this.logger.info({ event: 'download-done', file: label, bytes: outcome.bytes, skipped: outcome.skipped, resumed: outcome.resumed, ...this.fields() }, message);
  }

  retrying(label: string, attempt: number, delayMs: number, reason: string): void {
    this.logger.warn({ event: 'download-retry', file: label, attempt, delay_ms: delayMs, reason }, 'retrying');
  }

  note(message: string): void {
    this.logger.info({ event: 'ingest' }, message);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const s = this.tally.snapshot();
    if (s.filesDone > 0) this.logger.info({ event: 'download-summary', ...this.fields() }, 'downloads finished');
  }

  private fields(): Record<string, number | null> {
    const s = this.tally.snapshot();
    return {
      files_done: s.filesDone,
      files_planned: s.filesPlanned,
      bytes_done: s.bytesDone,
      bytes_total: s.bytesTotal === null ? null : Math.round(s.bytesTotal),
      bytes_per_second: Math.round(s.bytesPerSecond),
      eta_seconds: s.etaSeconds === null ? null : Math.round(s.etaSeconds),
    };
  }
}

/** Reports nothing: for library callers that show no progress. */
export const silentProgress: ProgressReporter = {
  plan: () => undefined,
  fileProgress: () => undefined,
  fileDone: () => undefined,
  retrying: () => undefined,
  note: () => undefined,
  close: () => undefined,
};
