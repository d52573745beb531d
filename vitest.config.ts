import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real processes (nats-server, scheduler, workers): give them room.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Suites that spawn process clusters compete for the 2 cores; run files one at a time.
    fileParallelism: false,
    reporters: ['default'],
  },
});
