import type { Catalog } from '../../ingest/catalog.js';
import type { DagBuilder } from '../compiler/dag-builder.js';
import type { CallbackValue, Value } from '../compiler/values.js';

/** The JSON schema of a parameter or return value, as in the openEO process definitions. */
export type JsonSchema = Record<string, unknown> | Record<string, unknown>[];

export interface ProcessParameter {
  name: string;
  description: string;
  schema: JsonSchema;
  optional?: boolean;
  default?: unknown;
  deprecated?: boolean;
  experimental?: boolean;
}

/** What GET /processes lists for a process. */
export interface ProcessDefinition {
  id: string;
  summary: string;
  description: string;
  categories: string[];
  parameters: ProcessParameter[];
  returns: { description: string; schema: JsonSchema };
  exceptions?: Record<string, { message: string; description?: string; http?: number }>;
  experimental?: boolean;
  deprecated?: boolean;
}

/** Where the job's outputs go, and how the compiler should shape its task graph. */
export interface JobTarget {
  jobId: string;
  /** Results directory relative to DATA_DIR. */
  outputDir: string;
}

export interface EvaluationContext {
  catalog: Catalog;
  builder: DagBuilder;
  target: JobTarget;
  /** Notes for the job log (e.g. a parameter ignored). */
  warnings: string[];
  /** Calls a callback (a child process graph) with its parameters bound. */
  callCallback(callback: CallbackValue, parameters: Record<string, Value>): Promise<Value>;
  /** Files the job writes (save_result adds to it). */
  outputs: SavedOutput[];
}

export interface SavedOutput {
  format: string;
  /** Sink task keys; their reports list the written files. */
  taskKeys: string[];
  /** Grid and time span of what was saved, for the result's STAC metadata. */
  grid: { epsg: number; transform: number[]; width: number; height: number } | null;
  timeRange: [string, string] | null;
}

export interface ProcessImplementation {
  definition: ProcessDefinition;
  /** Evaluates at compile time: plain values are computed, data cubes become task graphs. */
  evaluate(args: Record<string, Value>, context: EvaluationContext): Value | Promise<Value>;
}
