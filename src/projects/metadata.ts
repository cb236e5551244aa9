import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import { LRUCache } from 'lru-cache'
import { findJsonProblem } from '../http/input-guard.js'

/**
 * Project metadata schemas: JSON Schema (draft-07; a `$schema` naming draft-04 or draft-06 is
 * accepted and read as draft-07, which those simple schemas agree with). A schema is compiled
 * when it is saved, so a broken one is refused then rather than at the first upload.
 */
const ajv = new Ajv({ allErrors: true, strict: false, validateSchema: true, verbose: true })
;(addFormats as unknown as (ajv: Ajv) => Ajv)(ajv)

const compiled = new LRUCache<string, ValidateFunction>({ max: 1_000 })

/** The validator of a schema, or the reason it is not a usable schema. */
export function compileMetadataSchema(schema: unknown): { validate: ValidateFunction } | { problem: string } {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return { problem: 'must be a JSON Schema object' }
  const key = JSON.stringify(schema)
  const cached = compiled.get(key)
  if (cached) return { validate: cached }
  const { $schema: _ignored, ...rest } = schema as Record<string, unknown>
  try {
    const validate = ajv.compile(rest)
    compiled.set(key, validate)
    return { validate }
  } catch (error) {
    return { problem: (error as Error).message }
  }
}

/**
 * Reads a schema as clients send it: the reference API's `metadataScheme` is a JSON Schema
 * serialised as a string; an object is accepted too. Empty means "no schema".
 */
export function parseMetadataSchemaInput(input: unknown): { schema: object | null } | { problem: string } {
  if (input === undefined || input === null || input === '') return { schema: null }
  let schema = input
  if (typeof input === 'string') {
    try {
      schema = JSON.parse(input)
    } catch {
      return { problem: 'is not valid JSON' }
    }
    // An object body was checked by the input guard; the text inside a string was not.
    const issue = findJsonProblem(schema, 'metadataScheme')
    if (issue) return { problem: `${issue.message} (at ${issue.location})` }
  }
  const compiledSchema = compileMetadataSchema(schema)
  if ('problem' in compiledSchema) return { problem: `is not a valid JSON Schema: ${compiledSchema.problem}` }
  return { schema: schema as object }
}

/**
 * The reference API's merge of an update into stored metadata: a shallow merge where new keys
 * are added, existing ones replaced and keys set to null removed.
 */
export function mergeMetadata(stored: unknown, update: unknown): unknown {
  const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value)
  if (!isObject(update)) return update
  const merged: Record<string, unknown> = isObject(stored) ? { ...stored } : {}
  for (const [key, value] of Object.entries(update)) {
    if (value === null) delete merged[key]
    else merged[key] = value
  }
  return merged
}

/** The reference API's wording: `metadata validation failed:\n  - (root): author is required`. */
export function describeSchemaErrors(errors: ErrorObject[]): string {
  const lines = errors.slice(0, 20).map((error) => {
    const field = error.instancePath ? error.instancePath.slice(1).replace(/\//g, '.') : '(root)'
    if (error.keyword === 'required') return `  - ${field}: ${(error.params as { missingProperty: string }).missingProperty} is required`
    if (error.keyword === 'type') return `  - ${field}: Invalid type. Expected: ${(error.params as { type: string }).type}, given: ${jsonType(error.data)}`
    if (error.keyword === 'additionalProperties') {
      return `  - ${field}: Additional property ${(error.params as { additionalProperty: string }).additionalProperty} is not allowed`
    }
    return `  - ${field}: ${error.message}`
  })
  return `metadata validation failed:\n${lines.join('\n')}`
}

function jsonType(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  return typeof value
}
