import type { EventBus, Subscription } from '../common/events/index.js';
import type { SchedulerLink } from './scheduler-link.js';

const encoder = new TextEncoder();

/**
 * A worker's bus when it has no NATS connection: events ride its scheduler stream and the
 * scheduler publishes them on its own bus. Workers only publish, never subscribe.
 */
export class RelayBus implements EventBus {
  constructor(private readonly link: SchedulerLink) {}

  publish(subject: string, payload: unknown): void {
    this.link.relay([{ subject, payload: encoder.encode(JSON.stringify(payload)) }]);
  }

  subscribe(): Subscription {
    throw new Error('a worker relaying events through the scheduler cannot subscribe');
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}
