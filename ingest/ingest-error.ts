/**
 * Why an ingest failed, as a value: the code tells a script (and the retry logic) what kind of
 * failure it was, the message tells a person in one line what to do about it.
 */

export type IngestErrorCode =
  /** The command line or the options are wrong. */
  | 'usage'
  /** The server answered 401 or 403: credentials are missing or not accepted. */
  | 'unauthorized'
  /** The server answered 404 or 410, or a local file is missing. */
  | 'not-found'
  /** Another HTTP status that retrying does not fix, or a transient one that outlasted the retries. */
  | 'http'
  /** The connection failed, was reset or timed out, more often than the retries allow. */
  | 'network'
  /** The disk is full (or the quota reached) while writing. */
  | 'disk-full'
  /** Another file-system failure (permissions, a read-only mount). */
  | 'storage'
  /** The downloaded bytes are not what the server or the STAC metadata announced. */
  | 'integrity'
  /** The input is not what it claims to be (a STAC document, an OISST file, a grid that does not fit). */
  | 'invalid-data'
  /** A search or folder found nothing to ingest. */
  | 'no-data'
  /** Days that come before the end of the cube and are not in it: a cube only grows forward in time. */
  | 'out-of-order'
  /** The operation was aborted (Ctrl-C, or another download failed). */
  | 'aborted';

export class IngestError extends Error {
  readonly code: IngestErrorCode;
  /** Whether trying the same request again may succeed (5xx, resets, timeouts). */
  readonly transient: boolean;
  /** The HTTP status behind the failure, when a server answered. */
  readonly status: number | undefined;

  constructor(code: IngestErrorCode, message: string, options: { cause?: unknown; transient?: boolean; status?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'IngestError';
    this.code = code;
    this.transient = options.transient ?? false;
    this.status = options.status;
  }
}

export function isIngestError(error: unknown, code?: IngestErrorCode): error is IngestError {
  return error instanceof IngestError && (code === undefined || error.code === code);
}

/** Error codes of the file system that mean "no space left": ENOSPC, and EDQUOT for a quota. */
const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);

/** A file-system failure as an IngestError: a full disk says so, anything else names the path. */
export function storageError(doing: string, error: unknown): IngestError {
  if (error instanceof IngestError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && DISK_FULL_CODES.has(code)) {
    return new IngestError('disk-full', `${doing}: the disk is full (${code}); free some space and run the command again`, { cause: error });
  }
  const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
  return new IngestError('storage', `${doing}: ${why}`, { cause: error });
}
