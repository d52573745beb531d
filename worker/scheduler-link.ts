import { grpc, schedulerClient, type SchedulerClient } from '../common/grpc.js';
import type { Logger } from '../common/logger.js';
import type { Heartbeat } from '../proto/generated/openeo/cluster/v1/Heartbeat.js';
import type { RelayedEvent } from '../proto/generated/openeo/cluster/v1/RelayedEvent.js';
import type { SchedulerMessage__Output } from '../proto/generated/openeo/cluster/v1/SchedulerMessage.js';
import type { TaskAssignment__Output } from '../proto/generated/openeo/cluster/v1/TaskAssignment.js';
import type { TaskResult } from '../proto/generated/openeo/cluster/v1/TaskResult.js';
import type { WorkerMessage } from '../proto/generated/openeo/cluster/v1/WorkerMessage.js';

/** First wait before reconnecting to a lost scheduler (ms); doubles up to RECONNECT_MAX_DELAY_MS. */
export const RECONNECT_BASE_DELAY_MS = 200;
export const RECONNECT_MAX_DELAY_MS = 5_000;
/** Deadline of the registration call (ms). */
export const REGISTER_TIMEOUT_MS = 5_000;

export interface LinkIdentity {
  schedulerAddress: string;
  name: string;
  /** host:port of this worker's peer service. */
  address: string;
  threads: number;
  memoryLimit: number;
  version: string;
}

export interface LinkHandlers {
  assign(tasks: TaskAssignment__Output[]): void;
  cancel(keys: string[]): void;
  release(keys: string[]): void;
  steal(keys: string[]): void;
  /** Copy these chunks from their holders (a peer is retiring). */
  replicate(chunks: { key: string; holders: string[]; nbytes: number }[]): void;
  /** The scheduler allows this worker to exit (after a retire request). */
  retire(): void;
  /** The session ended (scheduler restarted or unreachable): drop all state before reconnecting. */
  sessionLost(): void;
  connected(workerId: string, heartbeatIntervalMs: number): void;
}

/**
 * A worker's session with the scheduler: registration, then one bidirectional stream.
 * Results are batched per event-loop turn; a lost session is re-established with back-off.
 */
export class SchedulerLink {
  private readonly client: SchedulerClient;
  private stream: grpc.ClientDuplexStream<WorkerMessage, SchedulerMessage__Output> | null = null;
  private results: TaskResult[] = [];
  private flushScheduled = false;
  private closing = false;
  private attempt = 0;
  workerId = '';

  constructor(
    private readonly identity: LinkIdentity,
    private readonly handlers: LinkHandlers,
    private readonly logger: Logger,
  ) {
    this.client = schedulerClient(identity.schedulerAddress);
  }

  get connected(): boolean {
    return this.stream !== null;
  }

  /** Registers and opens the session; resolves when connected, retrying until it is. */
  async start(): Promise<void> {
    for (;;) {
      try {
        await this.open();
        return;
      } catch (error) {
        if (this.closing) throw error;
        const delay = Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_BASE_DELAY_MS * 2 ** this.attempt++);
        this.logger.warn({ scheduler: this.identity.schedulerAddress, error: (error as Error).message, retryInMs: delay }, 'cannot reach the scheduler');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  sendResult(result: TaskResult): void {
    this.results.push(result);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (this.results.length === 0) return;
      const batch = this.results;
      this.results = [];
      this.write({ results: { results: batch } });
    });
  }

  sendHeartbeat(heartbeat: Heartbeat): void {
    this.write({ heartbeat });
  }

  relay(events: RelayedEvent[]): void {
    this.write({ events: { events } });
  }

  handBack(keys: string[]): void {
    if (keys.length > 0) this.write({ handBack: { keys } });
  }

  acquired(chunks: { key: string; nbytes: number }[]): void {
    if (chunks.length > 0) this.write({ acquired: { chunks } });
  }

  requestRetire(reason: string): void {
    this.write({ retire: { reason } });
  }

  close(): void {
    this.closing = true;
    this.stream?.end();
    this.stream = null;
    this.client.close();
  }

  private write(message: WorkerMessage): void {
    if (this.stream && !this.stream.writableEnded) this.stream.write(message);
  }

  private open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const { name, address, threads, memoryLimit, version } = this.identity;
      this.client.RegisterWorker(
        { name, address, threads, memoryLimitBytes: memoryLimit, version },
        { deadline: Date.now() + REGISTER_TIMEOUT_MS },
        (error, reply) => {
          if (error || !reply) {
            reject(error ?? new Error('empty registration reply'));
            return;
          }
          const metadata = new grpc.Metadata();
          metadata.set('worker-id', reply.workerId);
          const stream = this.client.Connect(metadata);
          this.stream = stream;
          this.workerId = reply.workerId;
          this.attempt = 0;
          let ended = false;
          const onEnd = (reason: string): void => {
            if (ended) return;
            ended = true;
            if (this.stream === stream) this.stream = null;
            if (this.closing) return;
            this.logger.warn({ reason }, 'scheduler session lost; reconnecting');
            this.handlers.sessionLost();
            void this.start();
          };
          stream.on('data', (message: SchedulerMessage__Output) => this.dispatch(message));
          stream.on('error', (e: Error) => onEnd(e.message));
          stream.on('end', () => onEnd('stream ended'));
          this.handlers.connected(reply.workerId, reply.heartbeatIntervalMs);
          resolve();
        },
      );
    });
  }

  private dispatch(message: SchedulerMessage__Output): void {
    switch (message.body) {
      case 'assign':
        this.handlers.assign(message.assign!.tasks);
        break;
      case 'cancel':
        this.handlers.cancel(message.cancel!.keys);
        break;
      case 'release':
        this.handlers.release(message.release!.keys);
        break;
      case 'steal':
        this.handlers.steal(message.steal!.keys);
        break;
      case 'replicate':
        this.handlers.replicate(message.replicate!.chunks);
        break;
      case 'retire':
        this.handlers.retire();
        break;
      default:
        break;
    }
  }
}
