import type { Condition } from './filter.js'

/**
 * The seam between the embeddings store and the thing that finds neighbours. PostgreSQL is
 * the source of truth for vectors in every engine; an engine answers searches and may keep
 * derived structures (pgvector: per-project HNSW indexes in the database; later, an
 * in-process index) that it brings up to date when told a project changed.
 */
export interface SearchProject {
  id: number
  dimensions: number
  /** Rows in the project, as the project row counts them. */
  embeddingCount: number
}

export interface SearchRequest {
  project: SearchProject
  /** The query vector, already checked to have the project's dimensions. */
  vector: readonly number[]
  /** Results wanted after `offset` results are skipped. */
  limit: number
  offset: number
  /** Lowest cosine similarity returned, from -1 to 1. */
  threshold: number
  /** The stored record searched from (GET by id): never its own neighbour. */
  excludeTextId?: string | undefined
  /** The reference API's exclusion: drop records whose top-level `key` equals `value` (trimmed). */
  excludeMetadata?: { key: string; value: string } | undefined
  filter: Condition[]
  include: { text: boolean; metadata: boolean }
}

export interface SearchHit {
  id: string
  similarity: number
  text?: string | null
  metadata?: unknown
}

export interface IndexStatus {
  state: 'none' | 'building' | 'ready' | 'failed'
  /** How a search of this project runs now. */
  search: 'exact' | 'index'
  rows_at_build: number | null
  error: string | null
}

export interface VectorEngine {
  readonly name: 'pgvector' | 'native'
  /** What `/readyz` shows: the engine and the version of what it runs on. */
  readonly description: string
  search(request: SearchRequest): Promise<SearchHit[]>
  /** Embeddings of the project changed (after commit); derived structures may need work. */
  projectChanged(projectId: number): void
  /** The project is being deleted or emptied; drop what the engine derived from it. */
  projectCleared(projectId: number): Promise<void>
  indexStatus(project: SearchProject): Promise<IndexStatus>
  close(): Promise<void>
}
