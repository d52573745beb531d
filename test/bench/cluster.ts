import { type ChildProcess, spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { InProcessBus, type JobStatusEvent, jobSubject } from '../../common/events/index.js';
import { schedulerClient } from '../../common/grpc.js';
import { createLogger } from '../../common/logger.js';
import { mainScript } from '../../common/paths.js';
import { runScheduler, type SchedulerServer } from '../../scheduler/index.js';

/** Worker processes of benchmark clusters: one per core of this 2-core machine. */
export const BENCH_WORKERS = 2;

export interface BenchTaskSpec {
  key: string;
  op: string;
  args: Uint8Array;
  deps: string[];
  priority: number;
  estBytes: number;
}

export interface BenchCluster {
  scheduler: SchedulerServer;
  /** Largest process memory any worker reported since the last call (bytes). */
  takePeakWorkerMemory(): number;
  /** Submits a graph and resolves with the seconds until its job finished. */
  submit(jobId: string, graph: { tasks: BenchTaskSpec[]; outputs: string[] }): Promise<number>;
  stop(): Promise<void>;
}

/**
 * The scheduler in this process (as in the embedded default) and worker processes on loopback,
 * the same gRPC protocol a cluster uses. BENCH_PROFILE_DIR writes CPU profiles of the workers.
 */
export async function startBenchCluster(options: { dataDir: string; workers?: number; threadsPerWorker?: number; memoryLimit?: number }): Promise<BenchCluster> {
  const logger = createLogger('bench', 'warn');
  const bus = new InProcessBus();
  const scheduler = await runScheduler(
    // Heartbeats carry worker memory; frequent ones catch its peak.
    { host: '127.0.0.1', port: 0, metricsPort: 0, workerTimeoutMs: 60_000, validate: false, dataDir: options.dataDir, natsUrl: null, heartbeatIntervalMs: 100 },
    { bus, logger },
  );
  const address = `127.0.0.1:${scheduler.port}`;
  const workers: ChildProcess[] = [];
  const ready: Promise<void>[] = [];
  for (let i = 0; i < (options.workers ?? BENCH_WORKERS); i++) {
    const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];
    const child = spawn(process.execPath, [...profile, mainScript(), 'worker'], {
      env: {
        ...process.env,
        SCHEDULER_ADDRESS: address,
        DATA_DIR: options.dataDir,
        WORKER_THREADS: String(options.threadsPerWorker ?? 1),
        WORKER_NAME: `bench-${i}`,
        LOG_LEVEL: 'info',
        NATS_URL: '',
        ...(options.memoryLimit ? { WORKER_MEMORY_LIMIT: String(options.memoryLimit) } : {}),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    workers.push(child);
    ready.push(
      new Promise((resolve, reject) => {
        let text = '';
        let connected = false;
        child.stderr!.on('data', (data: Buffer) => {
          if (process.env.BENCH_VERBOSE) process.stderr.write(data);
          if (connected) return;
          text += data.toString();
          if (text.includes('connected to the scheduler')) {
            connected = true;
            text = '';
            resolve();
          }
        });
        child.once('exit', (code) => reject(new Error(`bench worker exited with ${code}: ${text}`)));
      }),
    );
  }
  await Promise.all(ready);
  const client = schedulerClient(address);
  let peak = 0;
  const watch = setInterval(() => {
    for (const worker of scheduler.server.state.workers.values()) peak = Math.max(peak, worker.memory.processBytes);
  }, 50);
  return {
    scheduler: scheduler.server,
    takePeakWorkerMemory() {
      const value = peak;
      peak = 0;
      return value;
    },
    async submit(jobId, graph) {
      const ended = new Promise<JobStatusEvent>((resolve) => {
        const sub = bus.subscribe(jobSubject(jobId, 'status'), (_subject, payload) => {
          const event = payload as JobStatusEvent;
          if (event.status === 'running') return;
          sub.unsubscribe();
          resolve(event);
        });
      });
      const started = performance.now();
      await new Promise<void>((resolve, reject) => client.SubmitGraph({ jobId, tasks: graph.tasks, outputs: graph.outputs }, (error) => (error ? reject(error) : resolve())));
      const event = await ended;
      const seconds = (performance.now() - started) / 1000;
      if (event.status !== 'finished') throw new Error(`benchmark job ${jobId} ended ${event.status}: ${event.error?.message ?? ''}`);
      return seconds;
    },
    async stop() {
      clearInterval(watch);
      client.close();
      for (const child of workers) child.kill('SIGINT');
      await Promise.all(workers.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
      await scheduler.stop();
    },
  };
}
