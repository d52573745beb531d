import { ALL_JOB_EVENTS, type EventBus, type Subscription } from '../../common/events/index.js';
import type { Logger } from '../../common/logger.js';

/** Applies one job event (`openeo.job.<cluster job id>.<kind>`); resolves once it is stored. */
export type JobEventHandler = (subject: string, payload: unknown) => Promise<void>;

/**
 * Where the API's job events come from. Events are handed over one at a time, in the order they
 * arrived, so a job's log entries keep their order and a late progress event cannot overtake the
 * final status.
 */
export interface JobEventSource {
  /** Starts delivery; resolves once the events published while the API was away are applied (if the source keeps any). */
  start(handler: JobEventHandler): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Events straight from the bus (in-process on the embedded default): what is published while no
 * API listens is gone, which is why the embedded default reconciles with the scheduler at start.
 */
export class BusEventSource implements JobEventSource {
  private subscription: Subscription | null = null;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly bus: EventBus,
    private readonly logger: Logger,
  ) {}

  async start(handler: JobEventHandler): Promise<void> {
    this.subscription = this.bus.subscribe(ALL_JOB_EVENTS, (subject, payload) => {
      this.queue = this.queue.then(() => handler(subject, payload)).catch((error: unknown) => this.logger.error({ err: error, subject }, 'job event not applied'));
    });
  }

  async stop(): Promise<void> {
    this.subscription?.unsubscribe();
    this.subscription = null;
    await this.queue;
  }
}
