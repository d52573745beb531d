import { OpenEOError } from '../../common/errors.js';
import type { LazyCube } from '../compiler/cube.js';
import { type CallbackValue, describeValue, isCallbackValue, isCube, isSymbolic, type SymbolicValue, type Value } from '../compiler/values.js';

/** Typed access to evaluated arguments, with openEO errors that name the parameter. */

export function invalid(process: string, parameter: string, message: string): OpenEOError {
  return new OpenEOError('ProcessParameterInvalid', `${process}: parameter "${parameter}" ${message}`);
}

export function cubeArg(process: string, args: Record<string, Value>, name: string): LazyCube {
  const value = args[name];
  if (!isCube(value)) throw invalid(process, name, `must be a data cube, got ${describeValue(value ?? null)}`);
  return value.cube;
}

export function callbackArg(process: string, args: Record<string, Value>, name: string): CallbackValue {
  const value = args[name];
  if (!isCallbackValue(value)) throw invalid(process, name, `must be a process (a child process graph), got ${describeValue(value ?? null)}`);
  return value;
}

export function stringArg(process: string, args: Record<string, Value>, name: string): string {
  const value = args[name];
  if (typeof value !== 'string') throw invalid(process, name, `must be a string, got ${describeValue(value ?? null)}`);
  return value;
}

export function optionalString(process: string, args: Record<string, Value>, name: string): string | null {
  const value = args[name];
  if (value === undefined || value === null) return null;
  return stringArg(process, args, name);
}

export function numberArg(process: string, args: Record<string, Value>, name: string): number {
  const value = args[name];
  if (typeof value !== 'number') throw invalid(process, name, `must be a number, got ${describeValue(value ?? null)}`);
  return value;
}

export function booleanArg(process: string, args: Record<string, Value>, name: string, fallback: boolean): boolean {
  const value = args[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw invalid(process, name, `must be true or false, got ${describeValue(value)}`);
  return value;
}

export function objectArg(process: string, args: Record<string, Value>, name: string): Record<string, Value> | null {
  const value = args[name];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value) || isCube(value) || isSymbolic(value) || isCallbackValue(value)) {
    throw invalid(process, name, `must be an object, got ${describeValue(value)}`);
  }
  return value as Record<string, Value>;
}

export function stringArray(process: string, args: Record<string, Value>, name: string): string[] | null {
  const value = args[name];
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw invalid(process, name, 'must be an array of strings');
  return value as string[];
}

export function isSymbolicOrNumber(value: Value | undefined): value is SymbolicValue | number | null {
  return value === null || typeof value === 'number' || isSymbolic(value);
}

/** A number or no-data (null), for processes on plain values. */
export function numberOrNull(process: string, name: string, value: Value | undefined): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number') return value;
  throw invalid(process, name, `must be a number or null, got ${describeValue(value)}`);
}

export function booleanOrNull(process: string, name: string, value: Value | undefined): boolean | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'boolean') return value;
  throw invalid(process, name, `must be true, false or null, got ${describeValue(value)}`);
}

export function arrayArg(process: string, args: Record<string, Value>, name: string): Value[] {
  const value = args[name];
  if (!Array.isArray(value)) throw invalid(process, name, `must be an array, got ${describeValue(value ?? null)}`);
  return value;
}

export function integerArg(process: string, args: Record<string, Value>, name: string): number {
  const value = numberArg(process, args, name);
  if (!Number.isInteger(value)) throw invalid(process, name, `must be an integer, got ${value}`);
  return value;
}
