import type { FastifyInstance } from 'fastify'
import { errors, type ValidationIssue } from './errors.js'

/**
 * Text that PostgreSQL cannot store, and JSON that our recursive code cannot walk, refused at
 * the door with a 422 naming the field, before any route sees it:
 *
 * - NUL (U+0000): `text` and `jsonb` cannot hold it (SQLSTATE 22021 / 22P05), so without this
 *   check it reached the database and answered 500.
 * - Unpaired UTF-16 surrogates (`"\ud800"` in JSON): not Unicode. PostgreSQL refuses them in
 *   `jsonb`, and a `text` column would get U+FFFD instead, silently changing the user's text
 *   (and two ids that both became U+FFFD collided in one batch). We refuse rather than change.
 * - Nesting deeper than {@link MAX_JSON_DEPTH}: metadata, filters and JSON Schemas are walked
 *   recursively (by us, by Ajv, by the filter compiler); 10,000 levels overflowed the stack.
 *   No real document of ours needs more than a handful of levels.
 */
export const MAX_JSON_DEPTH = 64

/** How many path segments a location shows before it is cut short. */
const MAX_LOCATION_SEGMENTS = 12

export function textProblem(text: string): string | null {
  if (text.includes('\u0000')) return 'must not contain NUL characters (\\u0000)'
  // String.prototype.isWellFormed is in Node 20 (V8 11.3) but not in the ES2023 type library.
  if (!(text as string & { isWellFormed(): boolean }).isWellFormed()) return 'contains an unpaired UTF-16 surrogate, which is not valid Unicode'
  return null
}

const segment = (key: string | number) => (typeof key === 'number' ? `[${key}]` : /^[A-Za-z_$][\w$-]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`)

function locationOf(base: string, path: ReadonlyArray<string | number>): string {
  const shown = path.slice(0, MAX_LOCATION_SEGMENTS).map(segment).join('')
  return base + shown + (path.length > MAX_LOCATION_SEGMENTS ? '…' : '')
}

/**
 * The first problem in a parsed JSON value (or a query/params object), located like our
 * validation errors (`body.metadata.title`); null when there is none. Walks with an explicit
 * stack, so that the check itself cannot overflow on the input it is meant to refuse.
 */
export function findJsonProblem(value: unknown, base: string, maxDepth = MAX_JSON_DEPTH): ValidationIssue | null {
  const stack: Array<{ value: unknown; path: Array<string | number> }> = [{ value, path: [] }]
  while (stack.length > 0) {
    const { value: current, path } = stack.pop() as { value: unknown; path: Array<string | number> }
    if (typeof current === 'string') {
      const problem = textProblem(current)
      if (problem) return { message: problem, location: locationOf(base, path) }
      continue
    }
    if (current === null || typeof current !== 'object') continue
    if (path.length >= maxDepth) {
      return { message: `is nested more than ${maxDepth} levels deep`, location: locationOf(base, path.slice(0, 1)) }
    }
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push({ value: current[i], path: [...path, i] })
      continue
    }
    for (const [key, child] of Object.entries(current)) {
      const problem = textProblem(key)
      if (problem) return { message: `has a property name that ${problem}`, location: locationOf(base, path) }
      stack.push({ value: child, path: [...path, key] })
    }
  }
  return null
}

/** Throws the 422 for the first problem in `value`, if any. */
export function assertCleanJson(value: unknown, base: string, maxDepth = MAX_JSON_DEPTH) {
  const issue = findJsonProblem(value, base, maxDepth)
  if (issue) throw errors.validation([issue])
}

/**
 * Checks every JSON body as it is parsed and every path and query value before validation.
 * Errors go through the route's own error handler, so the gateway's routes answer them in
 * OpenAI's or Anthropic's envelope.
 */
export function installInputGuard(app: FastifyInstance) {
  const parseJson = app.getDefaultJsonParser('error', 'error')
  const guarded = (request: Parameters<typeof parseJson>[0], body: string, done: (error: Error | null, value?: unknown) => void) =>
    parseJson(request, body, (error, value) => {
      if (error) return done(error)
      const issue = findJsonProblem(value, 'body')
      if (issue) return done(errors.validation([issue]))
      done(null, value)
    })
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser(['application/json', 'application/merge-patch+json'], { parseAs: 'string' }, guarded)
  app.addHook('preValidation', async (request) => {
    assertCleanJson(request.params, 'path', 2)
    assertCleanJson(request.query, 'query', 3)
  })
}
