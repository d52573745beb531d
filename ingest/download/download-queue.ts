import { IngestError, isIngestError } from '../ingest-error.js';
import { downloadFile, labelOf, type DownloadFileOptions, type DownloadRequest, type DownloadResult } from './download-file.js';
import { silentProgress, type ProgressReporter } from './progress.js';

/**
 * Many downloads, a bounded number at a time, handed to the caller in the order requested, so
 * that a consumer (the NetCDF → Zarr conversion) can work on file n while later ones arrive.
 * The first failure stops the rest: downloads under way are aborted (their `.part` files stay
 * for the next run to resume) and that first failure is what the caller sees.
 */

export interface DownloadQueueOptions extends Omit<DownloadFileOptions, 'onProgress' | 'onRetry'> {
  concurrency: number;
  /** Most files downloaded ahead of the one the caller works on: bounds the disk a slow consumer needs. Default: unbounded. */
  lookahead?: number;
  progress?: ProgressReporter;
}

export async function* downloadInOrder(requests: readonly DownloadRequest[], options: DownloadQueueOptions): AsyncGenerator<DownloadResult> {
  const progress = options.progress ?? silentProgress;
  const concurrency = Math.max(1, options.concurrency);
  const lookahead = Math.max(1, options.lookahead ?? Infinity);
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const results: Promise<DownloadResult>[] = [];
  let next = 0;
  let running = 0;
  let consumed = 0;
  let firstFailure: unknown = null;

  progress.plan(requests.length);
  const pump = (): void => {
    while (!signal.aborted && running < concurrency && next < requests.length && next < consumed + lookahead) {
      const request = requests[next++]!;
      const label = labelOf(request);
      running++;
      const download = downloadFile(request, {
        ...options,
        signal,
        onProgress: (bytes, total) => progress.fileProgress(label, bytes, total),
        onRetry: ({ attempt, delayMs, error }) => progress.retrying(label, attempt, delayMs, error.message),
      }).then(
        (result) => {
          running--;
          progress.fileDone(label, { bytes: result.bytes, skipped: result.skipped, resumed: result.resumed });
          pump();
          return result;
        },
        (error: unknown) => {
          running--;
          // Downloads aborted because of another failure are consequences, not the cause.
          if (firstFailure === null && !(isIngestError(error, 'aborted') && stop.signal.aborted)) firstFailure = error;
          stop.abort();
          throw error;
        },
      );
      // Failures are reported through `firstFailure` when the caller reaches them.
      download.catch(() => undefined);
      results.push(download);
    }
  };

  try {
    pump();
    for (let i = 0; i < requests.length; i++) {
      if (results[i] === undefined) {
        // Nothing started it: the queue was stopped.
        throw firstFailure ?? new IngestError('aborted', 'downloads aborted');
      }
      let result: DownloadResult;
      try {
        result = await results[i]!;
      } catch (error) {
        throw firstFailure ?? error;
      }
      consumed = i + 1;
      pump();
      yield result;
    }
  } finally {
    stop.abort();
    await Promise.allSettled(results);
  }
}

/** Downloads everything (bounded concurrency); resolves when all are complete, rejects on the first failure. */
export async function downloadAll(requests: readonly DownloadRequest[], options: DownloadQueueOptions): Promise<DownloadResult[]> {
  const results: DownloadResult[] = [];
  for await (const result of downloadInOrder(requests, { ...options, lookahead: Infinity })) results.push(result);
  return results;
}
