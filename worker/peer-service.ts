import { chunkHeader, chunkPayload } from '../common/chunk.js';
import { CHANNEL_OPTIONS, clusterProto, grpc } from '../common/grpc.js';
import type { ChunkPart } from '../proto/generated/openeo/cluster/v1/ChunkPart.js';
import type { FetchChunksRequest__Output } from '../proto/generated/openeo/cluster/v1/FetchChunksRequest.js';
import type { ChunkStore } from './chunk-store.js';

/** Bytes per streamed part: under gRPC's default 4 MiB message limit of any peer, large enough to amortise framing. */
export const CHUNK_PART_BYTES = 2 * 1024 * 1024;

const encoder = new TextEncoder();

/** The Worker gRPC service: peers fetch the chunks this worker holds. */
export function createPeerServer(store: ChunkStore): grpc.Server {
  const server = new grpc.Server(CHANNEL_OPTIONS);
  server.addService(clusterProto().openeo.cluster.v1.Worker.service, {
    FetchChunks: (call: grpc.ServerWritableStream<FetchChunksRequest__Output, ChunkPart>) => {
      void (async () => {
        for (const key of call.request.keys) {
          if (call.cancelled) return;
          const chunk = await store.getOwned(key);
          if (!chunk) {
            call.write({ key, missing: true, last: true });
            continue;
          }
          const header = encoder.encode(JSON.stringify(chunkHeader(chunk)));
          const payload = chunkPayload(chunk);
          if (payload.length <= CHUNK_PART_BYTES) {
            call.write({ key, header, data: payload, last: true });
            continue;
          }
          for (let offset = 0; offset < payload.length; offset += CHUNK_PART_BYTES) {
            const end = Math.min(payload.length, offset + CHUNK_PART_BYTES);
            const ok = call.write({ key, header: offset === 0 ? header : new Uint8Array(0), data: payload.subarray(offset, end), last: end === payload.length });
            if (!ok) await new Promise((resolve) => call.once('drain', resolve));
          }
        }
        call.end();
      })();
    },
  });
  return server;
}
