import { connect, JSONCodec, type NatsConnection } from 'nats';
import type { Logger } from '../logger.js';
import type { EventBus, EventHandler, Subscription } from './bus.js';

/** Reconnect forever: a broker restart must not end the service (NATS client default is 10 attempts). */
export const NATS_MAX_RECONNECT_ATTEMPTS = -1;
/** Wait between reconnect attempts (ms). */
export const NATS_RECONNECT_WAIT_MS = 1_000;

const codec = JSONCodec();

/** The bus on a NATS server (core NATS; durable state goes to JetStream elsewhere). */
export class NatsBus implements EventBus {
  private constructor(
    readonly connection: NatsConnection,
    private readonly logger: Logger,
  ) {}

  static async connect(url: string, name: string, logger: Logger): Promise<NatsBus> {
    const connection = await connect({
      servers: url.split(','),
      name,
      maxReconnectAttempts: NATS_MAX_RECONNECT_ATTEMPTS,
      reconnectTimeWait: NATS_RECONNECT_WAIT_MS,
    });
    void (async () => {
      for await (const status of connection.status()) {
        logger.info({ nats: status.type, data: String(status.data) }, 'NATS connection status');
      }
    })();
    return new NatsBus(connection, logger);
  }

  publish(subject: string, payload: unknown): void {
    this.connection.publish(subject, codec.encode(payload));
  }

  subscribe(pattern: string, handler: EventHandler): Subscription {
    const sub = this.connection.subscribe(pattern);
    void (async () => {
      for await (const message of sub) {
        try {
          handler(message.subject, codec.decode(message.data));
        } catch (error) {
          this.logger.error({ err: error, subject: message.subject }, 'event handler failed');
        }
      }
    })();
    return { unsubscribe: () => sub.unsubscribe() };
  }

  flush(): Promise<void> {
    return this.connection.flush();
  }

  async close(): Promise<void> {
    await this.connection.drain();
  }
}
