import { readFileSync } from 'node:fs';
import { openapiSchemaToJsonSchema } from '@openapi-contrib/openapi-schema-to-json-schema';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import YAML from 'yaml';
import { sharedPath } from './shared.js';

/**
 * Validates responses against the official openEO API 1.2 OpenAPI document: the response schema
 * of an operation and status (exact, then 2XX/4XX/5XX, then default), with $refs resolved.
 */
/** Marks responses whose body the document leaves open (result data). */
const ANY_BODY = Symbol('any body');

export class OpenApiValidator {
  private readonly document: any;
  private readonly ajv: Ajv;
  private readonly cache = new Map<string, ValidateFunction | null | typeof ANY_BODY>();

  constructor(path = sharedPath('openeo', 'api', 'openapi.yaml')) {
    this.document = YAML.parse(readFileSync(path, 'utf8'));
    this.ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
    const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;
    (addFormats as unknown as (ajv: Ajv) => void)(this.ajv);
    // commonmark-formatted strings and other openEO formats are plain strings to a validator.
    for (const format of ['commonmark', 'url', 'uri-template', 'ogc-wkt', 'epsg-code', 'temporal-interval']) this.ajv.addFormat(format, true);
    // Some oneOf lists in the document offer "any JSON Schema" beside specific shapes (a
    // `Generic` branch in process_json_schema; `json_schema` beside statistics in collection
    // summaries), so a valid value matches two branches. Their intent is "any of these".
    relaxDocumentationOneOf(this.document);
    const definitions: Record<string, unknown> = {};
    for (const [name, schema] of Object.entries(this.document.components.schemas as Record<string, unknown>)) {
      definitions[name] = this.convert(schema);
    }
    this.ajv.addSchema({ $id: 'openeo', definitions });
  }

  private convert(schema: unknown): unknown {
    const converted = openapiSchemaToJsonSchema(schema as object, { cloneSchema: true, supportPatternProperties: true }) as Record<string, unknown>;
    delete converted.$schema;
    return JSON.parse(JSON.stringify(converted).replace(/"#\/components\/schemas\/([^"]+)"/g, '"openeo#/definitions/$1"'));
  }

  private resolveResponse(response: any): any {
    if (response?.$ref) {
      const name = String(response.$ref).split('/').pop()!;
      return this.document.components.responses[name];
    }
    return response;
  }

  /** Errors of `body` against the documented response, or null when it is valid. Throws if undocumented. */
  validate(method: string, path: string, status: number, body: unknown, contentType = 'application/json'): string[] | null {
    const key = `${method} ${path} ${status} ${contentType}`;
    let validator = this.cache.get(key);
    if (validator === undefined) {
      const operation = this.document.paths[path]?.[method.toLowerCase()];
      if (!operation) throw new Error(`${method} ${path} is not in the openEO API`);
      const responses = operation.responses;
      const documented = responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses.default;
      if (!documented) throw new Error(`${method} ${path} has no documented ${status} response`);
      const response = this.resolveResponse(documented);
      // A response documented by its Content-Type header alone (POST /result) carries data in any format.
      if (response.content === undefined && response.headers?.['Content-Type'] !== undefined) {
        this.cache.set(key, ANY_BODY);
        return null;
      }
      const content = response.content ?? {};
      const media = content[contentType] ?? content['application/json'] ?? Object.values(content)[0];
      validator = media?.schema ? this.ajv.compile(this.convert(media.schema) as object) : null;
      this.cache.set(key, validator);
    }
    if (validator === undefined) throw new Error('unreachable');
    if (validator === ANY_BODY) return null;
    if (validator === null) return body === null || body === undefined || body === '' ? null : ['response should have no body'];
    return validator(body) ? null : (validator.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
  }

  /** Paths the API document defines. */
  paths(): string[] {
    return Object.keys(this.document.paths);
  }
}

function isAnySchemaBranch(branch: any): boolean {
  return branch?.title === 'Generic' || branch?.$ref === '#/components/schemas/json_schema';
}

function relaxDocumentationOneOf(node: any): void {
  if (Array.isArray(node)) {
    for (const item of node) relaxDocumentationOneOf(item);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node.oneOf) && node.oneOf.some(isAnySchemaBranch)) {
    node.anyOf = node.oneOf;
    delete node.oneOf;
  }
  for (const value of Object.values(node)) relaxDocumentationOneOf(value);
}
