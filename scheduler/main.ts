import { schedulerConfig, type SchedulerConfig } from '../common/config.js';
import { type EventBus, InProcessBus, NatsBus } from '../common/events/index.js';
import { createLogger, type Logger } from '../common/logger.js';
import { startSchedulerMetrics } from './metrics.js';
import { SchedulerServer } from './server.js';

export interface RunningScheduler {
  server: SchedulerServer;
  bus: EventBus;
  port: number;
  stop(): Promise<void>;
}

/** Starts the scheduler role: gRPC server plus its event bus (NATS when configured). */
export async function runScheduler(
  config: SchedulerConfig = schedulerConfig(),
  options: { bus?: EventBus; logger?: Logger } = {},
): Promise<RunningScheduler> {
  const logger = options.logger ?? createLogger('scheduler');
  const bus = options.bus ?? (config.natsUrl ? await NatsBus.connect(config.natsUrl, 'scheduler', logger) : new InProcessBus());
  const server = new SchedulerServer({ config, bus, logger, validate: config.validate });
  const port = await server.start();
  const metrics = await startSchedulerMetrics(server.state, { host: config.host, port: config.metricsPort }, logger);
  return {
    server,
    bus,
    port,
    async stop() {
      await metrics.close();
      await server.stop();
      if (!options.bus) await bus.close();
    },
  };
}
