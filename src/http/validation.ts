import { Ajv, type Options } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifyInstance } from 'fastify'

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
 * Checks a value against a request-body schema outside HTTP (the CLI), with the same rules
 * as the server; returns the messages of what is wrong, empty when it is valid.
 */
export function checkBody(schema: object, value: unknown): string[] {
  standalone ??= withFormats(new Ajv({ ...common, coerceTypes: false }))
  const validate = standalone.compile(schema)
  if (validate(value)) return []
  return (validate.errors ?? []).map((e) => {
    const custom = (e.parentSchema as Record<string, unknown> | undefined)?.['x-error']
    const field = e.instancePath.replace(/^\//, '').replace(/\//g, '.') || 'value'
    return `${field} ${typeof custom === 'string' ? custom : e.message}`
  })
}
