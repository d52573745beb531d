import { grpc, schedulerClient, type SchedulerClient } from '../../common/grpc.js';
import type { ClusterStateReply__Output } from '../../proto/generated/openeo/cluster/v1/ClusterStateReply.js';
import { encodeTaskArgs } from '../../common/task-args.js';
import type { CompiledTask } from '../compiler/dag-builder.js';

/** Deadline of a graph submission (ms): large graphs take a moment to encode and register. */
export const SUBMIT_TIMEOUT_MS = 60_000;
/** Deadline of small scheduler calls (ms). */
export const CALL_TIMEOUT_MS = 10_000;

const encoder = new TextEncoder();

export class SchedulerUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SchedulerUnavailableError';
  }
}

/** The API's gRPC client of the scheduler. */
export class SchedulerConnection {
  private readonly client: SchedulerClient;

  constructor(readonly address: string) {
    this.client = schedulerClient(address);
  }

  submit(clusterJobId: string, tasks: CompiledTask[], outputs: string[]): Promise<void> {
    const request = {
      jobId: clusterJobId,
      outputs,
      tasks: tasks.map((t) => ({ key: t.key, op: t.op, args: encoder.encode(encodeTaskArgs(t.args)), deps: t.deps, priority: t.priority, estBytes: Math.round(t.estBytes) })),
    };
    return new Promise((resolve, reject) => {
      this.client.SubmitGraph(request, { deadline: Date.now() + SUBMIT_TIMEOUT_MS }, (error) => (error ? reject(classify(error)) : resolve()));
    });
  }

  cancel(clusterJobId: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.client.CancelJob({ jobId: clusterJobId }, { deadline: Date.now() + CALL_TIMEOUT_MS }, (error, reply) => (error ? reject(classify(error)) : resolve(reply?.found ?? false)));
    });
  }

  state(keys: string[] = []): Promise<ClusterStateReply__Output> {
    return new Promise((resolve, reject) => {
      this.client.ClusterState({ keys }, { deadline: Date.now() + CALL_TIMEOUT_MS }, (error, reply) => (error || !reply ? reject(classify(error ?? new Error('empty reply'))) : resolve(reply)));
    });
  }

  close(): void {
    this.client.close();
  }
}

function classify(error: Error & { code?: number }): Error {
  if (error.code === grpc.status.UNAVAILABLE || error.code === grpc.status.DEADLINE_EXCEEDED) {
    return new SchedulerUnavailableError(`the scheduler is not reachable: ${error.message}`, { cause: error });
  }
  return error;
}
