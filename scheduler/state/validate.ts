import type { JobState, TaskState, WorkerState } from './types.js';

/** The parts of the scheduler state the invariants are about. */
export interface StateView {
  readonly tasks: ReadonlyMap<string, TaskState>;
  readonly workers: ReadonlyMap<string, WorkerState>;
  readonly jobs: ReadonlyMap<string, JobState>;
}

export class InvariantError extends Error {
  constructor(message: string) {
    super(`scheduler invariant broken: ${message}`);
    this.name = 'InvariantError';
  }
}

function check(condition: boolean, message: () => string): void {
  if (!condition) throw new InvariantError(message());
}

/** Checks every invariant of the state machine; O(tasks + edges). Tests run it after each stimulus. */
export function validateState(state: StateView): void {
  for (const [key, task] of state.tasks) {
    check(task.key === key, () => `task stored under ${key} is ${task.key}`);
    check(task.state !== 'forgotten', () => `forgotten task ${key} is still stored`);
    check(task.jobs.length > 0, () => `task ${key} belongs to no job`);
    for (const job of task.jobs) check(state.jobs.get(job.id) === job, () => `task ${key} belongs to ended job ${job.id}`);
    for (const dep of task.dependencies) {
      check(state.tasks.get(dep.key) === dep, () => `task ${key} depends on unknown ${dep.key}`);
      check(dep.dependents.includes(task), () => `${dep.key} does not list dependent ${key}`);
    }
    const pending = task.dependents.filter((d) => d.holdsDependencies).length;
    check(task.dependentsPending === pending, () => `task ${key} has dependentsPending ${task.dependentsPending}, expected ${pending}`);
    switch (task.state) {
      case 'waiting': {
        const missing = task.dependencies.filter((d) => d.state !== 'memory').length;
        check(task.waitingOn === missing, () => `waiting task ${key} counts ${task.waitingOn} missing inputs, has ${missing}`);
        for (const dep of task.dependencies) {
          check(dep.state !== 'released', () => `waiting task ${key} waits on released ${dep.key} that nobody computes`);
        }
        check(task.holdsDependencies, () => `waiting task ${key} does not hold its dependencies`);
        break;
      }
      case 'queued':
        check(task.dependencies.every((d) => d.state === 'memory'), () => `queued task ${key} has inputs not in memory`);
        check(task.jobs.some((j) => j.queue.toArray().includes(task)), () => `queued task ${key} is in no job queue`);
        break;
      case 'processing':
        check(task.processingOn !== null && task.processingOn.processing.has(task), () => `processing task ${key} is not on its worker`);
        check(state.workers.get(task.processingOn!.id) === task.processingOn, () => `task ${key} is processing on a removed worker`);
        check(task.dependencies.every((d) => d.state === 'memory'), () => `processing task ${key} has inputs not in memory`);
        break;
      case 'memory':
        check(task.whoHas.size > 0 || (task.isOutput && task.meta !== null), () => `task ${key} in memory is held by no worker`);
        check(task.processingOn === null, () => `task ${key} in memory is still processing`);
        break;
      case 'released':
      case 'erred':
        check(task.whoHas.size === 0, () => `${task.state} task ${key} is still held`);
        check(task.processingOn === null, () => `${task.state} task ${key} is still processing`);
        break;
      default:
        break;
    }
    for (const worker of task.whoHas) {
      check(worker.hasWhat.has(task), () => `worker ${worker.name} does not know it holds ${key}`);
      check(state.workers.get(worker.id) === worker, () => `task ${key} is held by removed worker ${worker.name}`);
    }
  }
  for (const worker of state.workers.values()) {
    let occupancy = 0;
    for (const task of worker.processing) {
      check(task.state === 'processing' && task.processingOn === worker, () => `worker ${worker.name} lists ${task.key} as processing (${task.state})`);
      occupancy += task.occupancyMs;
    }
    check(Math.abs(occupancy - worker.occupancyMs) < 1e-6 * Math.max(1, occupancy), () => `worker ${worker.name} occupancy ${worker.occupancyMs} != ${occupancy}`);
    let nbytes = 0;
    for (const task of worker.hasWhat) {
      check(task.whoHas.has(worker), () => `worker ${worker.name} holds ${task.key} unknown to the task`);
      nbytes += task.nbytes;
    }
    check(nbytes === worker.nbytes, () => `worker ${worker.name} nbytes ${worker.nbytes} != ${nbytes}`);
    let incoming = 0;
    for (const task of state.tasks.values()) if (task.stealTo === worker) incoming++;
    check(incoming === worker.incomingSteals, () => `worker ${worker.name} expects ${worker.incomingSteals} stolen tasks, ${incoming} are on their way`);
  }
  for (const task of state.tasks.values()) {
    if (task.stealTo) check(task.state === 'processing' && task.processingOn !== task.stealTo, () => `task ${task.key} is being stolen but is ${task.state}`);
  }
  for (const job of state.jobs.values()) {
    check(job.status === 'running', () => `ended job ${job.id} is still stored`);
    const processing = job.tasks.filter((t) => t.state === 'processing').length;
    check(job.processing === processing, () => `job ${job.id} counts ${job.processing} processing tasks, has ${processing}`);
    const done = job.tasks.filter((t) => t.counted).length;
    check(job.done === done, () => `job ${job.id} counts ${job.done} done tasks, has ${done}`);
    for (const task of job.queue.toArray()) check(task.state === 'queued', () => `job ${job.id} queues ${task.key} in state ${task.state}`);
    const pendingOutputs = [...job.outputs].filter((t) => t.state !== 'memory').length;
    check(job.outputsPending === pendingOutputs, () => `job ${job.id} counts ${job.outputsPending} pending outputs, has ${pendingOutputs}`);
  }
}
