import { type RawBuilder, sql } from 'kysely'

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
