import { Ajv, type ErrorObject, type Options } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifyInstance } from 'fastify'
import type { ValidationIssue } from './errors.js'

/**
 * Two validators: request bodies are checked strictly (a string "5" is not the integer 5, an
 * unknown property is an error, nothing is removed), while path and query values, which are
 * always strings on the wire, are coerced to the declared types.
 */
const common: Options = {
  allErrors: true,
  // `verbose` keeps the failing value and schema on each error, for the located messages.
  verbose: true,
  useDefaults: true,
  removeAdditional: false,
  strict: true,
  keywords: ['x-error'],
}

export function installValidation(app: FastifyInstance) {
  const bodyAjv = withFormats(new Ajv({ ...common, coerceTypes: false }))
  const paramsAjv = withFormats(new Ajv({ ...common, coerceTypes: 'array' }))
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? bodyAjv.compile(schema) : paramsAjv.compile(schema),
  )
}

function withFormats(ajv: Ajv): Ajv {
  ;(addFormats as unknown as (ajv: Ajv) => Ajv)(ajv)
  return ajv
}

let standalone: Ajv | undefined

/**
 * Checks a value against a request-body schema outside a request (the CLI, PATCH results),
 * with the same rules and messages as the server; empty when it is valid.
 */
export function checkBody(schema: object, value: unknown): ValidationIssue[] {
  standalone ??= withFormats(new Ajv({ ...common, coerceTypes: false }))
  const validate = standalone.compile(schema)
  return validate(value) ? [] : toValidationIssues(validate.errors ?? [], 'body')
}

/**
 * Ajv's errors as issues located like the reference API's (`body.email`, `query.limit`).
 * A union (`anyOf`, such as string-or-null) fails with one error per alternative plus its
 * own; the client gets one line saying what the value may be.
 */
export function toValidationIssues(validation: ErrorObject[], part: string): ValidationIssue[] {
  const unions = new Set(validation.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath))
  const relevant = validation.filter((e) => e.keyword === 'anyOf' || !unions.has(e.instancePath))
  return dedupe(relevant.slice(0, 50).map((e) => toIssue(e, part)))
}

/** `must be "user" or "admin"`, `must be string or null` */
function describeAlternatives(alternatives: unknown): string {
  if (!Array.isArray(alternatives)) return 'has a value of the wrong type'
  const names = alternatives.map((schema: Record<string, unknown>) =>
    'const' in schema ? JSON.stringify(schema.const) : Array.isArray(schema.enum) ? schema.enum.map((v) => JSON.stringify(v)).join(' or ') : String(schema.type ?? 'another value'),
  )
  return `must be ${names.join(' or ')}`
}

function toIssue(error: ErrorObject, part: string): ValidationIssue {
  const path = part + pointerToPath(error.instancePath)
  const custom = (error.parentSchema as Record<string, unknown> | undefined)?.['x-error']
  switch (error.keyword) {
    case 'required':
      return { message: `expected required property ${(error.params as { missingProperty: string }).missingProperty} to be present`, location: path }
    case 'additionalProperties':
      return { message: 'unexpected property', location: `${path}.${(error.params as { additionalProperty: string }).additionalProperty}` }
    case 'anyOf':
      return {
        message: typeof custom === 'string' ? custom : describeAlternatives(error.schema),
        location: path,
        ...echo(error.data),
      }
    default:
      return {
        message: typeof custom === 'string' ? custom : (error.message ?? 'invalid value'),
        location: path,
        ...echo(error.data),
      }
  }
}

/** `/embeddings/0/vector` → `.embeddings[0].vector` */
function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((segment) => (/^\d+$/.test(segment) ? `[${segment}]` : `.${segment}`))
    .join('')
}

/** Echo small scalar values back to help the client; never whole objects or long arrays. */
function echo(value: unknown): { value?: unknown } {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return { value }
  if (typeof value === 'string') return { value: value.length > 200 ? `${value.slice(0, 200)}…` : value }
  return {}
}

function dedupe(issues: ValidationIssue[]): ValidationIssue[] {
  const seen = new Set<string>()
  return issues.filter((issue) => {
    const key = `${issue.location}\u0000${issue.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}
