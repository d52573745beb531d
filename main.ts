#!/usr/bin/env node
/**
 * One binary, one role per process: `embedded` (the default: API + scheduler + worker
 * processes on this machine), or `api`, `scheduler`, `worker` alone for a cluster.
 */
import { ConfigError } from './common/errors.js';
import { createLogger } from './common/logger.js';

export const ROLES = ['embedded', 'api', 'scheduler', 'worker'] as const;
export type Role = (typeof ROLES)[number];
/** Longest a process waits for a graceful stop after SIGTERM/SIGINT before exiting anyway (ms). */
export const SHUTDOWN_TIMEOUT_MS = 60_000;

function onSignals(stop: (signal: NodeJS.Signals) => Promise<void>): void {
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      setTimeout(() => process.exit(1), SHUTDOWN_TIMEOUT_MS).unref();
      stop(signal).then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
}

async function main(role: string): Promise<void> {
  switch (role) {
    case 'scheduler': {
      const { runScheduler } = await import('./scheduler/index.js');
      const running = await runScheduler();
      onSignals(() => running.stop());
      return;
    }
    case 'worker': {
      const { runWorker } = await import('./worker/index.js');
      const worker = await runWorker();
      // Kubernetes scale-down sends SIGTERM: retire gracefully so no work is lost.
      onSignals((signal) => (signal === 'SIGTERM' ? worker.retire('SIGTERM') : worker.stop()));
      return;
    }
    case 'api': {
      const { runApi } = await import('./api/index.js');
      const api = await runApi();
      onSignals(() => api.stop());
      return;
    }
    case 'embedded': {
      const { runEmbedded } = await import('./api/embedded.js');
      const running = await runEmbedded();
      onSignals(() => running.stop());
      return;
    }
    default:
      throw new ConfigError('role', `unknown role "${role}"; expected one of ${ROLES.join(', ')}`);
  }
}

const role = process.argv[2] ?? 'embedded';
main(role).catch((error: unknown) => {
  const logger = createLogger(role);
  logger.fatal({ err: error }, error instanceof ConfigError ? `invalid configuration: ${error.message}` : 'failed to start');
  setTimeout(() => process.exit(1), 100);
});
