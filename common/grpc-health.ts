import * as protoLoader from '@grpc/proto-loader';
import { HealthImplementation, protoPath, type ServingStatus } from 'grpc-health-check';
import { CHANNEL_OPTIONS, grpc } from './grpc.js';

export type { ServingStatus };

/**
 * The standard gRPC health service (`grpc.health.v1.Health`), which Kubernetes' gRPC probes and
 * `grpc_health_probe` ask. The empty service name is the process as a whole: "ready for work".
 */
export const OVERALL_HEALTH = '';
/** Health name of the scheduler's gRPC service: the process is alive and answering. */
export const SCHEDULER_SERVICE = 'openeo.cluster.v1.Scheduler';
/**
 * Health name of a worker's peer service: alive while the process serves chunks, including while
 * it retires (peers still copy its chunks then), so liveness probes never kill a retiring worker.
 */
export const WORKER_SERVICE = 'openeo.cluster.v1.Worker';
/** How long a health check waits for an answer (ms): Kubernetes' default probe timeout is 1 s. */
export const HEALTH_CHECK_TIMEOUT_MS = 1_000;

/** Serving status per health service name, settable while the server runs. */
export class HealthStatus {
  private readonly implementation: HealthImplementation;

  constructor(server: grpc.Server, initial: Record<string, ServingStatus>) {
    this.implementation = new HealthImplementation(initial);
    this.implementation.addToServer(server);
  }

  set(service: string, status: ServingStatus): void {
    this.implementation.setStatus(service, status);
  }
}

/** The answer of a health check: a serving status, or why there was none. */
export type HealthAnswer = ServingStatus | 'SERVICE_UNKNOWN' | 'UNREACHABLE';

interface HealthClient extends grpc.Client {
  Check(request: { service: string }, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, reply?: { status: ServingStatus }) => void): void;
}

let healthClientConstructor: grpc.ServiceClientConstructor | undefined;

function healthClient(address: string): HealthClient {
  if (!healthClientConstructor) {
    const definition = protoLoader.loadSync(protoPath, { keepCase: true, enums: String, defaults: true });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
    healthClientConstructor = loaded.grpc.health.v1.Health;
  }
  return new healthClientConstructor(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS) as unknown as HealthClient;
}

/** Asks `address` (host:port) for the health of `service`, as a gRPC probe does. */
export function checkHealth(address: string, service: string = OVERALL_HEALTH, timeoutMs = HEALTH_CHECK_TIMEOUT_MS): Promise<HealthAnswer> {
  const client = healthClient(address);
  return new Promise<HealthAnswer>((resolve) => {
    client.Check({ service }, { deadline: Date.now() + timeoutMs }, (error, reply) => {
      client.close();
      if (error) resolve(error.code === grpc.status.NOT_FOUND ? 'SERVICE_UNKNOWN' : 'UNREACHABLE');
      else resolve(reply?.status ?? 'UNKNOWN');
    });
  });
}
