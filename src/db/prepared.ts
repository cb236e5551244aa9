import { createHash } from 'node:crypto'
import type { CompiledQuery } from 'kysely'
import type pg from 'pg'

/**
 * Named prepared statements for the queries every request runs (finding the caller's key,
 * the project, the instance). PostgreSQL then plans them once per connection instead of on
 * every call; in the embedded database, planning a four-table join costs more than running
 * it (measured: 0.89 ms unnamed, 0.27 ms prepared). Only fixed SQL texts are registered, so
 * the statements per connection stay few.
 */
const names = new Map<string, string>()
const PATCHED = Symbol('llmbase.prepared')

/** Marks a query's SQL text as one to prepare, and returns the query to run it as usual. */
export function prepared<Q extends { compile(): CompiledQuery<unknown> }>(query: Q): Q {
  const { sql } = query.compile()
  if (!names.has(sql)) names.set(sql, `llmb_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`)
  return query
}

/**
 * The pool that Kysely uses: clients whose `query(text, values)` runs registered texts as
 * named statements. Everything else passes through untouched.
 */
export function withPreparedStatements(pool: pg.Pool) {
  return {
    connect: async () => {
      const client = (await pool.connect()) as pg.PoolClient & { [PATCHED]?: true }
      if (!client[PATCHED]) {
        const query = client.query.bind(client) as (...args: unknown[]) => unknown
        ;(client as unknown as { query: (...args: unknown[]) => unknown }).query = (text: unknown, values?: unknown, ...rest: unknown[]) => {
          const name = typeof text === 'string' ? names.get(text) : undefined
          return name ? query({ name, text, values }) : query(text, values, ...rest)
        }
        client[PATCHED] = true
      }
      return client
    },
    end: () => pool.end(),
  }
}
