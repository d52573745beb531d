/**
 * Zarr compression codecs for Node, registered in zarrita's codec registry.
 *
 * zarrita's own gzip and zlib codecs decode through web `DecompressionStream`s and cannot
 * encode at all, so writing a gzip-compressed array fails with them. Node's `zlib` does both,
 * natively. Kernel threads call it synchronously: each thread is one lane of parallelism of
 * its own, and a call through libuv's pool (4 threads shared by the process) costs a round
 * trip per chunk and caps the process at 4 lanes (an SST year read ran 14 ms per chunk
 * asynchronously, 7 ms synchronously). The main thread, which must stay responsive, uses the pool.
 *
 * blosc and zstd come from `numcodecs` as WebAssembly with the binary embedded in the module,
 * so they load in Node without fetching anything. Two gaps are bridged here:
 * - Zarr v3 spells blosc's `shuffle` as a word ("shuffle"), numcodecs expects a number and
 *   silently compresses without shuffling when given the word.
 * - Zarr v3 zstd carries a `checksum` flag numcodecs does not know; decoding checks any
 *   checksum present in the frame, encoding never adds one.
 */
import { promisify } from 'node:util';
import { isMainThread } from 'node:worker_threads';
import * as zlib from 'node:zlib';
import * as zarr from 'zarrita';

/** gzip level when an array's metadata gives none: 1, the fastest, as numcodecs does. */
export const DEFAULT_GZIP_LEVEL = 1;

/** zlib level when an array's metadata gives none: 1, the fastest, as numcodecs does. */
export const DEFAULT_ZLIB_LEVEL = 1;

/** blosc inner compressor when metadata gives none: "lz4", numcodecs' default. */
export const DEFAULT_BLOSC_CNAME = 'lz4';

/** blosc level when metadata gives none: 5, numcodecs' default. */
export const DEFAULT_BLOSC_CLEVEL = 5;

/** zstd level when metadata gives none: 1, numcodecs.js' default. */
export const DEFAULT_ZSTD_LEVEL = 1;

type Transform = (data: Uint8Array, options?: zlib.ZlibOptions) => Promise<Buffer>;

function inThisThread(transform: (data: Uint8Array, options?: zlib.ZlibOptions) => Buffer): Transform {
  return async (data, options) => transform(data, options);
}

const transforms: Record<'gzip' | 'gunzip' | 'deflate' | 'inflate', Transform> = isMainThread
  ? { gzip: promisify(zlib.gzip), gunzip: promisify(zlib.gunzip), deflate: promisify(zlib.deflate), inflate: promisify(zlib.inflate) }
  : { gzip: inThisThread(zlib.gzipSync), gunzip: inThisThread(zlib.gunzipSync), deflate: inThisThread(zlib.deflateSync), inflate: inThisThread(zlib.inflateSync) };

/** The shape of a codec zarrita's pipeline runs (its `Codec` type is not exported). */
interface BytesCodec {
  kind: 'bytes_to_bytes';
  encode(data: Uint8Array): Promise<Uint8Array>;
  decode(data: Uint8Array): Promise<Uint8Array>;
}

type RegistryEntry = Awaited<ReturnType<NonNullable<ReturnType<typeof zarr.registry.get>>>>;

/**
 * A Uint8Array that owns its whole ArrayBuffer. Node's zlib may hand back a view into a larger
 * pooled buffer; zarrita's `bytes` codec encodes `data.buffer` whole, so a decoded chunk that is
 * modified and written back (partial-chunk writes) must not share its buffer.
 */
function ownedBytes(buffer: Uint8Array): Uint8Array {
  if (buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength) {
    return new Uint8Array(buffer.buffer, 0, buffer.byteLength);
  }
  return new Uint8Array(buffer);
}

function levelFrom(config: unknown, fallback: number): number {
  const level = (config as { level?: unknown } | null | undefined)?.level;
  return typeof level === 'number' && Number.isInteger(level) ? level : fallback;
}

function nodeZlibEntry(
  compress: (data: Uint8Array, options: zlib.ZlibOptions) => Promise<Buffer>,
  decompress: (data: Uint8Array) => Promise<Buffer>,
  defaultLevel: number,
): RegistryEntry {
  return {
    kind: 'bytes_to_bytes',
    fromConfig(config: unknown): BytesCodec {
      const level = levelFrom(config, defaultLevel);
      return {
        kind: 'bytes_to_bytes',
        encode: async (data) => ownedBytes(await compress(data, { level })),
        decode: async (data) => ownedBytes(await decompress(data)),
      };
    },
  } as RegistryEntry;
}

const BLOSC_SHUFFLE_CODES: Record<string, number> = { noshuffle: 0, shuffle: 1, bitshuffle: 2 };

interface BloscConfig {
  cname?: string;
  clevel?: number;
  shuffle?: string | number;
  blocksize?: number;
}

async function bloscEntry(): Promise<RegistryEntry> {
  const { default: Blosc } = await import('numcodecs/blosc');
  return {
    kind: 'bytes_to_bytes',
    fromConfig(config: unknown) {
      const { cname, clevel, shuffle, blocksize } = (config ?? {}) as BloscConfig;
      const shuffleCode = typeof shuffle === 'string' ? BLOSC_SHUFFLE_CODES[shuffle] : shuffle;
      const codec = Blosc.fromConfig({
        id: 'blosc',
        cname: cname ?? DEFAULT_BLOSC_CNAME,
        clevel: clevel ?? DEFAULT_BLOSC_CLEVEL,
        shuffle: shuffleCode ?? BLOSC_SHUFFLE_CODES.shuffle,
        blocksize: blocksize ?? 0,
      } as Parameters<typeof Blosc.fromConfig>[0]);
      return Object.assign(codec, { kind: 'bytes_to_bytes' as const });
    },
  } as RegistryEntry;
}

async function zstdEntry(): Promise<RegistryEntry> {
  const { default: Zstd } = await import('numcodecs/zstd');
  return {
    kind: 'bytes_to_bytes',
    fromConfig(config: unknown) {
      const codec = Zstd.fromConfig({ id: 'zstd', level: levelFrom(config, DEFAULT_ZSTD_LEVEL) });
      return Object.assign(codec, { kind: 'bytes_to_bytes' as const });
    },
  } as RegistryEntry;
}

const gzipEntry = nodeZlibEntry(transforms.gzip, transforms.gunzip, DEFAULT_GZIP_LEVEL);
const zlibEntry = nodeZlibEntry(transforms.deflate, transforms.inflate, DEFAULT_ZLIB_LEVEL);

/** Registry loaders by codec name; the `numcodecs.*` names are how zarrita maps Zarr v2 compressors. */
const NODE_CODECS: Record<string, () => Promise<RegistryEntry>> = {
  gzip: async () => gzipEntry,
  'numcodecs.gzip': async () => gzipEntry,
  zlib: async () => zlibEntry,
  'numcodecs.zlib': async () => zlibEntry,
  blosc: bloscEntry,
  'numcodecs.blosc': bloscEntry,
  zstd: zstdEntry,
  'numcodecs.zstd': zstdEntry,
};

/** Codec names this module provides (all of them encode and decode). */
export const ZARR_CODEC_NAMES: readonly string[] = Object.keys(NODE_CODECS);

/**
 * Installs the Node codecs in zarrita's process-wide registry. Idempotent, and cheap enough to
 * call before every open: the wasm codecs load on first use, not here.
 */
export function registerZarrCodecs(): void {
  for (const [name, loader] of Object.entries(NODE_CODECS)) {
    if (zarr.registry.get(name) !== loader) zarr.registry.set(name, loader);
  }
}
