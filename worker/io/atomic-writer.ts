import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { describeError, TaskError } from '../../common/errors.js';

/**
 * Result files appear under their final name only when complete: they are written under a hidden
 * temporary name in the same folder, synced, then renamed. A listing of a results folder that
 * skips names starting with a dot (partial results of a running job) never shows half a file.
 */

/** Prefix of temporary names: a dot, so listings and web servers treat them as hidden. */
export const TEMPORARY_PREFIX = '.';

export function temporaryPath(path: string): string {
  return join(dirname(path), `${TEMPORARY_PREFIX}${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}.partial`);
}

/** Runs `write` on a new temporary file, syncs it and renames it to `path`; returns the bytes written. */
export async function writeFileAtomically(path: string, what: string, write: (handle: FileHandle) => Promise<void>): Promise<{ bytes: number }> {
  const temporary = temporaryPath(path);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temporary, 'wx');
    await write(handle);
    const { size } = await handle.stat();
    // The name publishes the file: its data must be on disk before a crash could leave the name over missing blocks.
    await handle.datasync();
    await handle.close();
    handle = undefined;
    await rename(temporary, path);
    return { bytes: size };
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
    if (error instanceof TaskError) throw error;
    throw new TaskError('internal', `cannot write ${what} ${path}: ${describeError(error)}`, { cause: error, openeoCode: 'StorageFailure' });
  }
}

/** Buffers per `writev` call: under Linux's IOV_MAX of 1024. */
export const BUFFERS_PER_WRITE = 512;

/** Writes all of `buffers` at the current position of the file, in order. */
export async function writeAll(handle: FileHandle, buffers: Uint8Array[]): Promise<void> {
  const pending = buffers.filter((b) => b.byteLength > 0);
  let next = 0;
  while (next < pending.length) {
    let { bytesWritten } = await handle.writev(pending.slice(next, next + BUFFERS_PER_WRITE));
    // writev may write less than asked: skip what went out and go on from there.
    while (next < pending.length && bytesWritten >= pending[next]!.byteLength) {
      bytesWritten -= pending[next]!.byteLength;
      next++;
    }
    if (bytesWritten > 0) pending[next] = pending[next]!.subarray(bytesWritten);
  }
}
