import { type Chunk, type ChunkHeader, chunkFromParts } from '../common/chunk.js';
import { TaskError } from '../common/errors.js';
import { workerClient, type WorkerClient } from '../common/grpc.js';
import type { ChunkPart__Output } from '../proto/generated/openeo/cluster/v1/ChunkPart.js';

/** A fetch from a peer that takes longer than this (ms) fails as transient and is retried by the scheduler. */
export const PEER_FETCH_TIMEOUT_MS = 60_000;

const decoder = new TextDecoder();

/** Clients to peers, one per address, reused across fetches. */
export class PeerFetcher {
  private readonly clients = new Map<string, WorkerClient>();

  constructor(private readonly selfAddress: string) {}

  /** Fetches `keys` from the worker at `address`; rejects with a transient TaskError if any is unavailable. */
  fetch(address: string, keys: string[]): Promise<Map<string, Chunk>> {
    if (address === this.selfAddress) return Promise.reject(new TaskError('transient', `chunks ${keys.join(', ')} are not held here`));
    const client = this.client(address);
    return new Promise((resolve, reject) => {
      const result = new Map<string, Chunk>();
      const partial = new Map<string, { header: ChunkHeader; parts: Uint8Array[]; size: number }>();
      const call = client.FetchChunks({ keys }, { deadline: Date.now() + PEER_FETCH_TIMEOUT_MS });
      call.on('data', (part: ChunkPart__Output) => {
        if (part.missing) {
          call.cancel();
          reject(new TaskError('transient', `peer ${address} no longer holds ${part.key}`));
          return;
        }
        let entry = partial.get(part.key);
        if (!entry) {
          entry = { header: JSON.parse(decoder.decode(part.header)) as ChunkHeader, parts: [], size: 0 };
          partial.set(part.key, entry);
        }
        entry.parts.push(part.data);
        entry.size += part.data.length;
        if (part.last) {
          partial.delete(part.key);
          result.set(part.key, chunkFromParts(entry.header, concat(entry.parts, entry.size)));
        }
      });
      call.on('error', (error: Error) => reject(new TaskError('transient', `fetching from peer ${address} failed: ${error.message}`, { cause: error })));
      call.on('end', () => {
        const missing = keys.filter((k) => !result.has(k));
        if (missing.length > 0) reject(new TaskError('transient', `peer ${address} did not send ${missing.join(', ')}`));
        else resolve(result);
      });
    });
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private client(address: string): WorkerClient {
    let client = this.clients.get(address);
    if (!client) {
      client = workerClient(address);
      this.clients.set(address, client);
    }
    return client;
  }
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) {
    // Copy once so the chunk owns an aligned buffer (gRPC buffers may be pooled slices).
    return new Uint8Array(parts[0]!);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
