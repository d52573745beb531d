import { formatResult, type BenchResult } from './result.js';

/**
 * `npm run bench [-- suite…]`: runs the named suites (all by default) and prints each figure with
 * its ratio to its target. Suites: dag, scheduler, workloads, write.
 */
const SUITES: Record<string, () => Promise<BenchResult[]>> = {
  dag: async () => (await import('./dag.js')).benchDag(),
  scheduler: async () => (await import('./scheduler.js')).benchScheduler(),
  workloads: async () => (await import('./workloads.js')).benchWorkloads(),
  write: async () => (await import('./write.js')).benchWrite(),
};

async function main(): Promise<void> {
  const requested = process.argv.slice(2);
  const names = requested.length > 0 ? requested : Object.keys(SUITES);
  for (const name of names) {
    const suite = SUITES[name];
    if (!suite) {
      console.error(`unknown benchmark suite "${name}"; suites: ${Object.keys(SUITES).join(', ')}`);
      process.exit(2);
    }
    console.log(`# ${name}`);
    for (const r of await suite()) console.log(formatResult(r));
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
