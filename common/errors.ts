/**
 * Errors are values with a code, a message for humans and a cause.
 *
 * `OpenEOError` carries an openEO API error code and the HTTP status that code is
 * answered with. `TaskError` is what a kernel raises on a worker: its `kind` tells
 * the scheduler whether a retry can help.
 */

/** HTTP status of every openEO error code this back-end raises (openEO API 1.2 errors list). */
export const OPENEO_ERROR_STATUS = {
  Internal: 500,
  NotFound: 404,
  FeatureUnsupported: 501,
  InfrastructureBusy: 503,
  RequestTimeout: 408,
  BadRequest: 400,
  PropertyNotEditable: 400,
  NoDataForUpdate: 400,
  CollectionNotFound: 404,
  StorageFailure: 500,
  FileNotFound: 404,
  ContentTypeInvalid: 400,
  JsonInvalid: 400,
  ProcessInvalid: 400,
  ProcessGraphMissing: 400,
  ProcessGraphInvalid: 400,
  ProcessGraphComplexity: 400,
  ProcessUnsupported: 400,
  ProcessParameterUnsupported: 400,
  ProcessParameterInvalid: 400,
  ProcessParameterMissing: 400,
  ProcessParameterRequired: 400,
  FormatUnsupported: 400,
  DimensionNotAvailable: 400,
  DimensionMismatch: 400,
  BandNotAvailable: 400,
  DataUnavailable: 400,
  JobNotFound: 404,
  JobLocked: 400,
  JobNotFinished: 400,
  JobNotStarted: 400,
  JobFailed: 424,
  ResultLinkExpired: 410,
  AuthenticationRequired: 401,
  AuthenticationSchemeInvalid: 403,
  TokenInvalid: 403,
  CredentialsInvalid: 403,
  PermissionsInsufficient: 403,
  // Raised by processes, as their openEO definitions name them.
  MinMaxSwapped: 400,
  ArrayElementNotAvailable: 400,
  ArrayElementParameterMissing: 400,
  ArrayElementParameterConflict: 400,
  ArrayNotLabeled: 400,
  ArrayLabelConflict: 400,
  LabelExists: 400,
  QuantilesParameterMissing: 400,
  QuantilesParameterConflict: 400,
  AscendingProbabilitiesRequired: 400,
  DimensionExists: 400,
  DimensionMissing: 400,
  DimensionLabelCountMismatch: 400,
  LabelsNotEnumerated: 400,
  LabelMismatch: 400,
  LabelNotAvailable: 400,
  BandFilterParameterMissing: 400,
  TemporalExtentEmpty: 400,
  TooManyDimensions: 400,
  DistinctDimensionLabelsRequired: 400,
  OverlapResolverMissing: 400,
  KernelDimensionsUneven: 400,
  TargetDimensionExists: 400,
} as const satisfies Record<string, number>;

export type OpenEOErrorCode = keyof typeof OPENEO_ERROR_STATUS;

export class OpenEOError extends Error {
  readonly code: OpenEOErrorCode;
  readonly status: number;
  /** Extra fields answered to the client alongside code and message (e.g. `links`). */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: OpenEOErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OpenEOError';
    this.code = code;
    this.status = OPENEO_ERROR_STATUS[code];
    this.details = options.details;
  }
}

export function isOpenEOError(error: unknown): error is OpenEOError {
  return error instanceof OpenEOError;
}

/**
 * Why a task failed, which decides what the scheduler does with it:
 * - `user`: the data or the process graph is at fault; retrying cannot help, the job fails at once.
 * - `transient`: a read timed out, a peer went away; retry with back-off.
 * - `canceled`: the job was canceled while the task ran.
 * - `internal`: a bug; reported like `user` but logged with its stack on the worker.
 */
export type TaskErrorKind = 'user' | 'transient' | 'canceled' | 'internal';

export class TaskError extends Error {
  readonly kind: TaskErrorKind;
  /** openEO code to show the user when this error fails a job. */
  readonly openeoCode: OpenEOErrorCode;

  constructor(kind: TaskErrorKind, message: string, options: { cause?: unknown; openeoCode?: OpenEOErrorCode } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TaskError';
    this.kind = kind;
    this.openeoCode = options.openeoCode ?? (kind === 'user' ? 'ProcessParameterInvalid' : 'Internal');
  }
}

export function isTaskError(error: unknown): error is TaskError {
  return error instanceof TaskError;
}

/** A concise, single-line description of any thrown value, never a stack trace. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message.split('\n')[0] ?? error.name;
  return String(error);
}

/** Raised when configuration (environment variables) is invalid at start-up. */
export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}
