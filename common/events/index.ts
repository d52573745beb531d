export * from './bus.js';
export * from './subjects.js';
export * from './job-events.js';
export { InProcessBus } from './in-process-bus.js';
export { NatsBus } from './nats-bus.js';
