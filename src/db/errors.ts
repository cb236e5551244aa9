/**
 * PostgreSQL errors by SQLSTATE (https://www.postgresql.org/docs/current/errcodes-appendix.html),
 * never by message text, which changes between versions and languages.
 */
export const SQLSTATE = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  notNullViolation: '23502',
  invalidTextRepresentation: '22P02',
  numericOutOfRange: '22003',
  queryCanceled: '57014',
  undefinedTable: '42P01',
} as const

export interface PgError extends Error {
  code: string
  constraint?: string
  detail?: string
}

export function isPgError(error: unknown, code?: string): error is PgError {
  const candidate = error as PgError | undefined
  return (
    typeof candidate?.code === 'string' &&
    /^[0-9A-Z]{5}$/.test(candidate.code) &&
    (code === undefined || candidate.code === code)
  )
}

/** Errors that mean the database could not be reached at all (as opposed to a failed statement). */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code
  if (typeof code === 'string' && /^(08|57P)/.test(code)) return true
  const message = (error as Error | undefined)?.message ?? ''
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'EPIPE', 'ETIMEDOUT'].includes(code ?? '') ||
    /Connection terminated|Client has encountered a connection error/.test(message)
  )
}

/**
 * Runs a "find, then update or insert" once more when its insert lost a race: two PUTs of
 * one new handle both find nothing, the second insert hits the unique key. Running again
 * finds the first writer's row and updates it, so concurrent PUTs all succeed and the last
 * writer wins, as one after another they would (20 at once gave 19 × 409 before). `run` must
 * own its transaction, if it has one: a failed statement has aborted it.
 */
export async function retryOnUniqueViolation<T>(run: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run()
    } catch (error) {
      if (attempt >= attempts || !isPgError(error, SQLSTATE.uniqueViolation)) throw error
    }
  }
}
