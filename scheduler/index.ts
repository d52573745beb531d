export { SchedulerServer, type SchedulerServerOptions } from './server.js';
export { SchedulerState, SubmissionError, type TaskSubmission } from './state/scheduler-state.js';
export type { JobEvent, Outbox, TaskState, WorkerState } from './state/types.js';
export { desiredWorkers } from './adaptive.js';
export { runScheduler } from './main.js';
