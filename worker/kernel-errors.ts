import { describeError, isTaskError, type TaskErrorKind } from '../common/errors.js';

/** A task failure as it travels to the scheduler. */
export interface TaskFailureReport {
  kind: TaskErrorKind | 'out-of-memory';
  message: string;
  code: string;
}

/** Classifies anything a kernel threw: TaskErrors keep their kind; the rest are internal errors. */
export function failureOf(error: unknown): TaskFailureReport {
  if (isTaskError(error)) return { kind: error.kind, message: error.message, code: error.openeoCode };
  if (error instanceof RangeError && /allocation|memory|Array buffer/i.test(error.message)) {
    return { kind: 'out-of-memory', message: `out of memory: ${describeError(error)}`, code: 'Internal' };
  }
  return { kind: 'internal', message: describeError(error), code: 'Internal' };
}
