#!/usr/bin/env node
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ingestConfig, type IngestConfig } from '../common/config.js';
import { ConfigError, describeError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { COLLECTIONS_DIR } from './catalog.js';
import { parseIngestArgs, USAGE, type IngestCommand } from './cli-args.js';
import { formatBytes, LogProgress, TerminalProgress, type ProgressReporter } from './download/progress.js';
import { isIngestError } from './ingest-error.js';
import { ingestLocal } from './ingest-local.js';
import { ingestOisst, type OisstIngestResult } from './ingest-oisst.js';
import { ingestSentinel2, SENTINEL2_DOWNLOAD_DIR, type Sentinel2IngestResult } from './ingest-sentinel2.js';
import { OISST_CUBE_FOLDER } from './oisst-cube.js';

/**
 * `npm run ingest -- <command>`: the summary goes to stdout, progress and logs to stderr (a bar
 * on a terminal, JSON lines otherwise), failures to stderr as one line. Exit status: 0 done,
 * 1 failed (nothing half-registered), 2 wrong usage or configuration, 130 interrupted.
 */

/** Exit status of a usage or configuration error: 2, as shells and getopt-style tools use it. */
export const EXIT_USAGE = 2;
/** Exit status of a failed ingest: 1. */
export const EXIT_FAILURE = 1;
/** Exit status after Ctrl-C: 128 + SIGINT (2), as shells report it. */
export const EXIT_INTERRUPTED = 130;

export async function main(argv: readonly string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let command: IngestCommand;
  let config: IngestConfig;
  try {
    command = parseIngestArgs(argv);
    if (command.kind === 'help') {
      out.write(`${USAGE}\n`);
      return 0;
    }
    config = ingestConfig(process.env);
  } catch (error) {
    if (isIngestError(error, 'usage')) {
      err.write(`error: ${error.message}\n\n${USAGE}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof ConfigError) {
      err.write(`error: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }

  const logger = createLogger('ingest');
  const progress: ProgressReporter = (err as { isTTY?: boolean }).isTTY ? new TerminalProgress(err) : new LogProgress(logger);
  const stop = new AbortController();
  const onSignal = (): void => {
    if (stop.signal.aborted) process.exit(EXIT_INTERRUPTED);
    progress.note('interrupted: stopping (partial downloads are kept and resumed next time)');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const common = {
    dataDir: config.dataDir,
    credentials: config.credentials,
    concurrency: command.concurrency ?? config.concurrency,
    retryBaseDelayMs: config.retryDelayMs,
    progress,
    signal: stop.signal,
  };
  try {
    const lines = await run(command, common, config);
    progress.close();
    out.write(`${lines.join('\n')}\n`);
    return 0;
  } catch (error) {
    progress.close();
    if (isIngestError(error, 'aborted') || stop.signal.aborted) {
      err.write('error: interrupted; nothing half-done was registered, and partial downloads resume next time\n');
      return EXIT_INTERRUPTED;
    }
    if (isIngestError(error)) {
      err.write(`error: ${error.message}\n`);
      return error.code === 'usage' ? EXIT_USAGE : EXIT_FAILURE;
    }
    logger.error({ err: error }, 'ingest failed');
    err.write(`error: ${describeError(error)}\n`);
    return EXIT_FAILURE;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    logger.flush();
  }
}

type Common = { dataDir: string; credentials: IngestConfig['credentials']; concurrency: number; retryBaseDelayMs: number; progress: ProgressReporter; signal: AbortSignal };

async function run(command: Exclude<IngestCommand, { kind: 'help' }>, common: Common, config: IngestConfig): Promise<string[]> {
  switch (command.kind) {
    case 'sentinel2': {
      const result = await ingestSentinel2({
        ...common,
        stac: command.stac,
        collection: command.collection,
        bbox: command.bbox,
        from: command.from,
        to: command.to,
        maxCloudCover: command.maxCloudCover,
        download: command.download,
      });
      return sentinel2Summary(result, config.dataDir);
    }
    case 'oisst': {
      const result = await ingestOisst({
        ...common,
        product: command.product,
        years: command.years ?? undefined,
        from: command.from ?? undefined,
        to: command.to ?? undefined,
        baseUrl: command.baseUrl,
        cacheDir: config.cacheDir,
      });
      return oisstSummary(result, config.dataDir);
    }
    case 'local': {
      const outcome = await ingestLocal(command.path, { ...common, download: command.download });
      return outcome.kind === 'sentinel2' ? sentinel2Summary(outcome.result, config.dataDir) : oisstSummary(outcome.result, config.dataDir);
    }
  }
}

function shown(dataDir: string, path: string): string {
  const rel = relative(process.cwd(), join(dataDir, path));
  return rel.startsWith('..') ? join(dataDir, path) : rel || '.';
}

function sentinel2Summary(result: Sentinel2IngestResult, dataDir: string): string[] {
  const lines = [
    `${result.collection}: ${result.ingested} item${result.ingested === 1 ? '' : 's'} ingested (${result.replaced} replaced an item of the same id); ` +
      `the collection holds ${result.total}, in ${result.epsgs.map((e) => `EPSG:${e}`).join(', ')}`,
  ];
  if (result.skipped.length > 0) lines.push(`skipped ${result.skipped.length} unusable item${result.skipped.length === 1 ? '' : 's'}: ${result.skipped.map((s) => s.reason).join('; ')}`);
  if (result.downloadedFiles > 0) lines.push(`downloaded ${result.downloadedFiles} files (${formatBytes(result.downloadedBytes)}) into ${shown(dataDir, SENTINEL2_DOWNLOAD_DIR)}`);
  if (result.replacedSample) lines.push(`the real data replaced the generated sample of ${result.collection} (its files were removed)`);
  lines.push(`catalog: ${shown(dataDir, join(COLLECTIONS_DIR, result.collection))}`);
  return lines;
}

function oisstSummary(result: OisstIngestResult, dataDir: string): string[] {
  const lines = [
    `${result.collection}: ${result.appendedDays} day${result.appendedDays === 1 ? '' : 's'} appended from ${result.files} file${result.files === 1 ? '' : 's'}` +
      `${result.skippedDays > 0 ? `, ${result.skippedDays} already in the cube` : ''}; ` +
      `the cube ${shown(dataDir, OISST_CUBE_FOLDER)} holds ${result.totalDays} days${result.firstDate ? `, ${result.firstDate} to ${result.lastDate}` : ''}`,
  ];
  if (result.cacheDir) lines.push(`downloaded files are kept in ${result.cacheDir}`);
  if (result.replacedSample) lines.push(`the real data replaced the generated sample of ${result.collection} (its files were removed)`);
  lines.push(`catalog: ${shown(dataDir, join(COLLECTIONS_DIR, result.collection))}`);
  return lines;
}

// Run when executed (node dist/ingest/cli.js), not when imported.
if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`error: ${describeError(error)}\n`);
      process.exitCode = EXIT_FAILURE;
    },
  );
}
