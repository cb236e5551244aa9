import { type RawBuilder, sql } from 'kysely'
import type { Condition } from '../filter.js'

/**
 * Filter conditions as SQL over `metadata`. Every key and value is a bound parameter, never
 * text spliced into the statement, so a filter cannot inject SQL however it is written.
 */
export function conditionSql(condition: Condition): RawBuilder<boolean> {
  const value = sql`metadata #> ${condition.path}::text[]`
  const json = JSON.stringify(condition.value ?? null)
  switch (condition.op) {
    case 'eq':
      return sql<boolean>`(${value}) = ${json}::jsonb`
    case 'ne':
      // A record without the key is "not equal" too.
      return sql<boolean>`(${value}) is distinct from ${json}::jsonb`
    case 'in':
      return sql<boolean>`coalesce((${value}) in (select jsonb_array_elements(${json}::jsonb)), false)`
    case 'nin':
      return sql<boolean>`not coalesce((${value}) in (select jsonb_array_elements(${json}::jsonb)), false)`
    case 'exists':
      return condition.value ? sql<boolean>`(${value}) is not null` : sql<boolean>`(${value}) is null`
    default: {
      // Ranges compare numbers with numbers and strings with strings (in byte order); a value
      // of the other type never matches. CASE, because AND does not promise to test the type
      // before the cast, and casting the string "1790" to numeric would fail the query.
      const operator = sql.raw({ gt: '>', gte: '>=', lt: '<', lte: '<=' }[condition.op])
      if (typeof condition.value === 'number') {
        return sql<boolean>`(case when jsonb_typeof(${value}) = 'number' then (${value})::numeric ${operator} ${condition.value}::numeric else false end)`
      }
      return sql<boolean>`(case when jsonb_typeof(${value}) = 'string' then (metadata #>> ${condition.path}::text[]) collate "C" ${operator} ${String(condition.value)} else false end)`
    }
  }
}

/** The reference API's `metadata_path`/`metadata_value` exclusion; records without the key stay. */
export const exclusionSql = (key: string, value: string) =>
  sql<boolean>`((metadata ->> ${key}) is null or trim(metadata ->> ${key}) <> trim(${value}))`

/**
 * The distance expression. With `indexed`, it is written exactly as the project's partial
 * HNSW index is, so the planner can use it: `vector` up to 2,000 dimensions, `halfvec` up to
 * 4,000 (pgvector's limits). Without, it matches no index and the search is exact.
 */
export function distanceSql(dimensions: number, indexed: boolean, vector: Buffer): RawBuilder<number> {
  if (!indexed) return sql<number>`(vector <=> ${vector}::vector)`
  const type = sql.raw(dimensions <= 2000 ? `vector(${dimensions})` : `halfvec(${dimensions})`)
  return sql<number>`(vector::${type} <=> ${vector}::vector::${type})`
}

/** The index definition that `distanceSql(…, true, …)` matches. Ids are ours, never user input. */
export function indexDefinition(projectId: number, dimensions: number, options: { m: number; efConstruction: number; concurrently: boolean }) {
  const type = dimensions <= 2000 ? `vector(${dimensions})` : `halfvec(${dimensions})`
  const ops = dimensions <= 2000 ? 'vector_cosine_ops' : 'halfvec_cosine_ops'
  return (
    `create index ${options.concurrently ? 'concurrently ' : ''}if not exists ${indexName(projectId)} on embeddings ` +
    `using hnsw ((vector::${type}) ${ops}) with (m = ${options.m}, ef_construction = ${options.efConstruction}) ` +
    `where project_id = ${Number(projectId)}`
  )
}

export const indexName = (projectId: number) => `embeddings_hnsw_p${Number(projectId)}`

/** pgvector indexes up to 4,000 dimensions (as halfvec); larger vectors are always searched exactly. */
export const MAX_INDEXED_DIMENSIONS = 4000
