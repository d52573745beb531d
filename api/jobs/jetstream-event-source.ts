import { AckPolicy, type ConsumerMessages, DeliverPolicy, DiscardPolicy, type JsMsg, type NatsConnection, NatsError, nanos, RetentionPolicy, StorageType } from 'nats';
import { ALL_JOB_EVENTS } from '../../common/events/index.js';
import type { Logger } from '../../common/logger.js';
import type { JobEventHandler, JobEventSource } from './job-event-source.js';
import { ensureStream } from './jetstream-setup.js';

/** Stream that keeps every job event (`openeo.job.>`) so an API that was down catches up. */
export const JOB_EVENT_STREAM = 'OPENEO_JOB_EVENTS';
/** The API's durable consumer of that stream: where the last API instance stopped reading. */
export const JOB_EVENT_CONSUMER = 'openeo-api';
/** How long job events are kept (ms): a day, far longer than an API is ever down, bounded for disk. */
export const JOB_EVENT_RETENTION_MS = 24 * 3600 * 1000;
/** Most bytes of job events kept (oldest dropped first): 1 GiB, weeks of progress events of a busy cluster. */
export const JOB_EVENT_MAX_BYTES = 1024 ** 3;
/** An event not acknowledged within this time (ms) is delivered again (its API died while applying it). */
export const JOB_EVENT_ACK_WAIT_MS = 10_000;
/** Deliveries of one event before it is given up (a poison event must not block the others forever). */
export const JOB_EVENT_MAX_DELIVER = 10;
/** Wait before an event whose application failed is delivered again (ms). */
export const JOB_EVENT_RETRY_DELAY_MS = 1_000;
/** Events fetched per pull. */
export const JOB_EVENT_BATCH = 256;
/** Longest the API start waits to apply the backlog before it goes on (ms); the rest is applied in the background. */
export const JOB_EVENT_CATCH_UP_TIMEOUT_MS = 10_000;

/**
 * Job events through a durable JetStream consumer: the scheduler and workers publish on core
 * NATS subjects, the stream captures them, and the API acknowledges each event only once it is
 * applied to the job store. An API restarted in the middle of a job resumes where it stopped,
 * so a job that finished while it was down is finished when it is back.
 */
export class JetStreamEventSource implements JobEventSource {
  private messages: ConsumerMessages | null = null;
  private loop: Promise<void> | null = null;

  private constructor(
    private readonly connection: NatsConnection,
    private readonly logger: Logger,
  ) {}

  /** Makes sure the stream and the durable consumer exist. */
  static async create(connection: NatsConnection, logger: Logger): Promise<JetStreamEventSource> {
    const jsm = await connection.jetstreamManager();
    await ensureStream(jsm, {
      name: JOB_EVENT_STREAM,
      subjects: [ALL_JOB_EVENTS],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(JOB_EVENT_RETENTION_MS),
      max_bytes: JOB_EVENT_MAX_BYTES,
    });
    try {
      await jsm.consumers.info(JOB_EVENT_STREAM, JOB_EVENT_CONSUMER);
    } catch (error) {
      if (!(error instanceof NatsError)) throw error;
      // New consumers start with what is published from now on: older events belong to jobs of an earlier deployment.
      await jsm.consumers.add(JOB_EVENT_STREAM, {
        durable_name: JOB_EVENT_CONSUMER,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.New,
        filter_subject: ALL_JOB_EVENTS,
        ack_wait: nanos(JOB_EVENT_ACK_WAIT_MS),
        max_deliver: JOB_EVENT_MAX_DELIVER,
      });
    }
    return new JetStreamEventSource(connection, logger);
  }

  async start(handler: JobEventHandler): Promise<void> {
    const consumer = await this.connection.jetstream().consumers.get(JOB_EVENT_STREAM, JOB_EVENT_CONSUMER);
    const backlog = (await consumer.info()).num_pending;
    let applied = 0;
    let caughtUp!: () => void;
    const ready = new Promise<void>((resolve) => (caughtUp = resolve));
    if (backlog === 0) caughtUp();
    else this.logger.info({ events: backlog }, 'applying job events published while the API was away');
    const messages = await consumer.consume({ max_messages: JOB_EVENT_BATCH });
    this.messages = messages;
    this.loop = (async () => {
      for await (const message of messages) {
        await this.apply(message, handler);
        if (++applied >= backlog) caughtUp();
      }
    })();
    const timer = setTimeout(caughtUp, JOB_EVENT_CATCH_UP_TIMEOUT_MS);
    await ready;
    clearTimeout(timer);
  }

  private async apply(message: JsMsg, handler: JobEventHandler): Promise<void> {
    let payload: unknown;
    try {
      payload = message.json();
    } catch {
      this.logger.warn({ subject: message.subject }, 'dropped a job event that is not JSON');
      message.term();
      return;
    }
    try {
      await handler(message.subject, payload);
      message.ack();
    } catch (error) {
      this.logger.error({ err: error, subject: message.subject, delivery: message.info.redeliveryCount }, 'job event not applied; it will be delivered again');
      message.nak(JOB_EVENT_RETRY_DELAY_MS);
    }
  }

  async stop(): Promise<void> {
    await this.messages?.close();
    await this.loop;
    this.messages = null;
  }
}
