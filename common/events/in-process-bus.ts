import { type EventBus, type EventHandler, subjectMatches, type Subscription } from './bus.js';

/**
 * The embedded default's bus: handlers run on a later microtask, as with a broker, so a
 * publisher never re-enters its own subscriber. Payloads are cloned through JSON so no
 * subscriber can mutate what another sees.
 */
export class InProcessBus implements EventBus {
  private readonly subscriptions = new Set<{ pattern: string; handler: EventHandler }>();
  private pending: Promise<void> = Promise.resolve();

  publish(subject: string, payload: unknown): void {
    const json = JSON.stringify(payload);
    this.pending = this.pending.then(() => {
      for (const sub of this.subscriptions) {
        if (!subjectMatches(sub.pattern, subject)) continue;
        try {
          sub.handler(subject, JSON.parse(json));
        } catch {
          // A failing subscriber must not stop the others; it logs its own errors.
        }
      }
    });
  }

  subscribe(pattern: string, handler: EventHandler): Subscription {
    const entry = { pattern, handler };
    this.subscriptions.add(entry);
    return { unsubscribe: () => this.subscriptions.delete(entry) };
  }

  flush(): Promise<void> {
    return this.pending;
  }

  async close(): Promise<void> {
    await this.pending;
    this.subscriptions.clear();
  }
}
