import { pino, type Logger } from 'pino';

export type { Logger };

/** Log level used when `LOG_LEVEL` is unset: routine state changes are worth one line each. */
export const DEFAULT_LOG_LEVEL = 'info';

/**
 * One JSON line per event on stderr; each process names its role so the lines of an embedded
 * run (API, scheduler and workers in one terminal) can be told apart.
 */
export function createLogger(role: string, level: string = process.env.LOG_LEVEL ?? DEFAULT_LOG_LEVEL): Logger {
  return pino({ name: role, level, base: { role, pid: process.pid } }, pino.destination({ dest: 2, sync: false }));
}
