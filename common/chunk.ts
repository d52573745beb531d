import type { DType, GeoTransform, TypedArray } from './raster.js';
import { dtypeOf, viewAs } from './raster.js';

/**
 * What a task produces and a worker holds: an n-dimensional array block of a data cube,
 * encoded bytes (a compressed output tile), or a small JSON value (a statistic, a file report).
 */
export type Chunk = ArrayChunk | BytesChunk | JsonChunk;

export interface ArrayChunk {
  kind: 'array';
  /** Dimension names, outermost first; spatial blocks end with ['y', 'x']. */
  dims: string[];
  shape: number[];
  data: TypedArray;
  /** Labels of non-spatial dimensions (dates, band names). */
  labels?: Record<string, (string | number)[]>;
  /** Georeferencing of the block's y/x grid. */
  geo?: { epsg: number | null; transform: GeoTransform };
}

export interface BytesChunk {
  kind: 'bytes';
  data: Uint8Array;
  info: Record<string, unknown>;
}

export interface JsonChunk {
  kind: 'json';
  value: unknown;
}

export function chunkBytes(chunk: Chunk): number {
  if (chunk.kind === 'json') return 64;
  return chunk.data.byteLength;
}

/** The JSON header sent before a chunk's raw bytes (everything but the data). */
export interface ChunkHeader {
  kind: Chunk['kind'];
  dtype?: DType;
  dims?: string[];
  shape?: number[];
  labels?: ArrayChunk['labels'];
  geo?: ArrayChunk['geo'];
  info?: Record<string, unknown>;
  value?: unknown;
}

export function chunkHeader(chunk: Chunk): ChunkHeader {
  switch (chunk.kind) {
    case 'array':
      return { kind: 'array', dtype: dtypeOf(chunk.data), dims: chunk.dims, shape: chunk.shape, labels: chunk.labels, geo: chunk.geo };
    case 'bytes':
      return { kind: 'bytes', info: chunk.info };
    case 'json':
      return { kind: 'json', value: chunk.value };
  }
}

/** The chunk's data as bytes, without copying. */
export function chunkPayload(chunk: Chunk): Uint8Array {
  if (chunk.kind === 'json') return new Uint8Array(0);
  return new Uint8Array(chunk.data.buffer, chunk.data.byteOffset, chunk.data.byteLength);
}

export function chunkFromParts(header: ChunkHeader, payload: Uint8Array): Chunk {
  switch (header.kind) {
    case 'array': {
      const chunk: ArrayChunk = { kind: 'array', dims: header.dims ?? [], shape: header.shape ?? [], data: viewAs(header.dtype ?? 'float32', payload) };
      if (header.labels) chunk.labels = header.labels;
      if (header.geo) chunk.geo = header.geo;
      return chunk;
    }
    case 'bytes':
      return { kind: 'bytes', data: payload, info: header.info ?? {} };
    case 'json':
      return { kind: 'json', value: header.value ?? null };
  }
}
