import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import type { ProtoGrpcType } from '../proto/generated/scheduler.js';
import { packageRoot } from './paths.js';

export { grpc };

/**
 * Largest gRPC message accepted or sent: 64 MiB. Assignment and result batches stay far below;
 * chunks travel in parts of CHUNK_PART_BYTES, so this only bounds a malformed peer.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Transport keepalive ping (ms): detects a dead TCP peer even when no messages flow. */
export const KEEPALIVE_INTERVAL_MS = 10_000;
/** How long an unanswered keepalive ping may wait before the connection is considered dead (ms). */
export const KEEPALIVE_TIMEOUT_MS = 5_000;

/**
 * HTTP/2 flow-control window of clients (bytes): 16 MiB. With the default 64 KiB a peer sending
 * a chunk stops every 64 KiB to wait for the receiver's window update; chunks are megabytes.
 */
export const FLOW_CONTROL_WINDOW_BYTES = 16 * 1024 * 1024;

/** Options shared by every gRPC server and client of the cluster. */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.keepalive_time_ms': KEEPALIVE_INTERVAL_MS,
  'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': KEEPALIVE_INTERVAL_MS / 2,
  'grpc-node.max_session_memory': 256,
  'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW_BYTES,
};

let cached: ProtoGrpcType | undefined;

/** The loaded service definitions; decoding options match the generated types (numbers for 64-bit, defaults filled). */
export function clusterProto(): ProtoGrpcType {
  if (cached) return cached;
  const definition = protoLoader.loadSync(join(packageRoot(), 'proto', 'scheduler.proto'), {
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  cached = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  return cached;
}

export type { SchedulerClient } from '../proto/generated/openeo/cluster/v1/Scheduler.js';
export type { WorkerClient } from '../proto/generated/openeo/cluster/v1/Worker.js';

export function schedulerClient(address: string): import('../proto/generated/openeo/cluster/v1/Scheduler.js').SchedulerClient {
  const Ctor = clusterProto().openeo.cluster.v1.Scheduler;
  return new Ctor(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
}

export function workerClient(address: string): import('../proto/generated/openeo/cluster/v1/Worker.js').WorkerClient {
  const Ctor = clusterProto().openeo.cluster.v1.Worker;
  return new Ctor(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
}

/** Binds `server` to `address` (host:port, port 0 = any free port); resolves to the bound port. */
export function bindServer(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port)));
  });
}

/** A gRPC error with a status code, for handlers to reject calls with. */
export function grpcError(code: grpc.status, message: string): grpc.ServiceError {
  return Object.assign(new Error(message), { code, details: message, metadata: new grpc.Metadata() });
}
