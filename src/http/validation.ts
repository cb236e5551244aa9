import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifyInstance } from 'fastify'
import type { ValidationIssue } from './errors.js'
import { compileAll, onFirstUse } from './first-use.js'

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

let requestAjvs: { body: Ajv; params: Ajv } | undefined

/**
 * A request schema's validator as every route's is: bodies strictly, path and query coerced.
 * It is compiled on its first use, not when the route is registered: compiling the ~250
 * request schemas of every route took most of a second of each start
 * (`npm run bench -- startup`), and a server answers its first request of a kind a few
 * milliseconds later instead. `compilePendingValidators` compiles what is left, so that a test
 * finds a schema Ajv refuses without sending each request.
 */
export function compileRequestSchema(schema: object, httpPart: string | undefined): ValidateFunction {
  const compile = () => {
    requestAjvs ??= {
      body: withFormats(new Ajv({ ...common, coerceTypes: false })),
      params: withFormats(new Ajv({ ...common, coerceTypes: 'array' })),
    }
    return (httpPart === 'body' ? requestAjvs.body : requestAjvs.params).compile(withFiniteBounds(schema))
  }
  const ensure = onFirstUse(pending, compile)
  // Fastify reads `errors` from the function it was given, after calling it.
  const validate = ((data: unknown) => {
    const run = ensure()
    const valid = run(data)
    validate.errors = run.errors
    return valid
  }) as ValidateFunction
  validate.errors = null
  return validate
}

const pending = new Set<() => ValidateFunction>()

/** Compiles every request validator not compiled yet; throws what Ajv throws for a bad schema. */
export const compilePendingValidators = () => compileAll(pending)

export function installValidation(app: FastifyInstance) {
  app.setValidatorCompiler(({ schema, httpPart }) => compileRequestSchema(schema, httpPart))
}

/**
 * A copy of `schema` in which every integer without bounds is held to the safe integers and
 * every number to the finite ones. Ajv's coercion turns `limit=Infinity`, `1e400` and
 * `99999999999999999999` into numbers that pass a bare `integer` and then overflowed a
 * `bigint` in PostgreSQL (500); a JSON body may carry `1e20` the same way. Bounds the schema
 * sets itself are kept.
 */
export function withFiniteBounds<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map(withFiniteBounds) as T
  if (schema === null || typeof schema !== 'object') return schema
  const copy: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(schema)) copy[key] = withFiniteBounds(value)
  const types = Array.isArray(copy.type) ? copy.type : [copy.type]
  const limit = types.includes('integer') ? Number.MAX_SAFE_INTEGER : types.includes('number') ? Number.MAX_VALUE : null
  if (limit !== null) {
    copy['x-finite'] = true
    if (copy.maximum === undefined && copy.exclusiveMaximum === undefined) copy.maximum = limit
    if (copy.minimum === undefined && copy.exclusiveMinimum === undefined) copy.minimum = -limit
  }
  return copy as T
}

function withFormats(ajv: Ajv): Ajv {
  ;(addFormats as unknown as (ajv: Ajv) => Ajv)(ajv)
  // Ajv checks `minimum`/`maximum` only on finite numbers, and its coercion turns "Infinity"
  // and "1e400" into Infinity: this keyword refuses what the bounds let through.
  // (No `type: 'number'` on the keyword: Ajv runs number keywords only on finite numbers.)
  ajv.addKeyword({ keyword: 'x-finite', schemaType: 'boolean', errors: false, validate: (_: boolean, data: unknown) => typeof data !== 'number' || Number.isFinite(data) })
  return ajv
}

let standalone: Ajv | undefined
/** Ajv caches by schema object; the bounded copy is a new object, so the cache is ours. */
const compiledBodies = new WeakMap<object, ValidateFunction>()

/**
 * Checks a value against a request-body schema outside a request (the CLI, PATCH results),
 * with the same rules and messages as the server; empty when it is valid.
 */
export function checkBody(schema: object, value: unknown): ValidationIssue[] {
  standalone ??= withFormats(new Ajv({ ...common, coerceTypes: false }))
  let validate = compiledBodies.get(schema)
  if (!validate) {
    validate = standalone.compile(withFiniteBounds(schema))
    compiledBodies.set(schema, validate)
  }
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

/**
 * Fields whose values are secrets (a provider's `api_key`, a webhook `secret`, a password):
 * an error about them never repeats the value, not even part of it.
 */
const SECRET_FIELD = /(^|_)(api_key|apikey|secret|password|token|authorization|key)$/i

export const isSecretLocation = (location: string) => SECRET_FIELD.test(location.split(/[.[\]]/).filter(Boolean).pop() ?? '')

function toIssue(error: ErrorObject, part: string): ValidationIssue {
  const issue = describeIssue(error, part)
  if ('value' in issue && isSecretLocation(issue.location)) delete issue.value
  return issue
}

function describeIssue(error: ErrorObject, part: string): ValidationIssue {
  const path = part + pointerToPath(error.instancePath)
  const custom = (error.parentSchema as Record<string, unknown> | undefined)?.['x-error']
  switch (error.keyword) {
    case 'required':
      return { message: `expected required property ${(error.params as { missingProperty: string }).missingProperty} to be present`, location: path }
    case 'x-finite':
      return { message: 'must be a finite number', location: path, ...echo(String(error.data)) }
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

/**
 * A route hook for `PUT …/{handle}`: a body without the handle takes the path's. The seed
 * documents' clients send the handle only in the path (`PUT /v1/llm-services/jdoe/my-openai`
 * with endpoint, model, …); when both name it they must agree, which the services check.
 */
export function handleFromPath(field: string, param: string = field) {
  return async (request: { body: unknown; params: unknown }) => {
    const body = request.body as Record<string, unknown> | null
    const value = (request.params as Record<string, unknown>)[param]
    if (body && typeof body === 'object' && !Array.isArray(body) && body[field] === undefined && typeof value === 'string') body[field] = value
  }
}
