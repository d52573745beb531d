/**
 * Job and task status travel as small JSON events on subjects named like NATS subjects
 * (`openeo.job.<id>.status`). The same interface runs in-process (embedded default) or on NATS.
 */

export type EventHandler = (subject: string, payload: unknown) => void;

export interface Subscription {
  unsubscribe(): void;
}

export interface EventBus {
  /** Publishes a JSON-serialisable payload; fire and forget. */
  publish(subject: string, payload: unknown): void;
  /** Subscribes with NATS wildcards: `*` matches one token, `>` the rest. */
  subscribe(pattern: string, handler: EventHandler): Subscription;
  /** Resolves when everything published so far has left this process. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** Whether a subject matches a NATS-style pattern. */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const token = p[i];
    if (token === '>') return s.length > i;
    if (i >= s.length) return false;
    if (token !== '*' && token !== s[i]) return false;
  }
  return p.length === s.length;
}
