import type pg from 'pg'
import type { SourceLayout } from './schema.js'

/**
 * Reading a dhamps-vdb database, whatever its version, into one shape. Everything but the
 * embeddings is small and read at once; embeddings are read in pages in id order (the
 * primary key: the reference has no index on `project_id`, so one pass over the table beats
 * one per project). Names in the SQL come from `detectLayout`, never from input.
 */
export interface SourceUser {
  handle: string
  name: string | null
  email: string
  /** The hex SHA-256 of the user's key. */
  keyHash: string | null
}

export interface SourceApiStandard {
  handle: string
  description: string | null
  keyMethod: string
  keyField: string | null
}

interface ModelFields {
  id: number
  owner: string
  handle: string
  endpoint: string
  description: string | null
  apiStandard: string
  model: string
  dimensions: number
  /** Null where the schema had no such column. */
  contextLimit: number | null
}

export interface SourceDefinition extends ModelFields {
  isPublic: boolean
}

export interface SourceInstance extends ModelFields {
  definitionId: number | null
  plainKey: string | null
  encryptedKey: Buffer | null
}

export interface SourceProject {
  id: number
  owner: string
  handle: string
  description: string | null
  metadataScheme: string | null
  publicRead: boolean
  instanceId: number | null
}

export interface SourceShare {
  user: string
  /** The project, instance or definition id. */
  id: number
  role: string
}

export interface SourceData {
  users: SourceUser[]
  apiStandards: SourceApiStandard[]
  definitions: SourceDefinition[]
  instances: SourceInstance[]
  projects: SourceProject[]
  projectShares: SourceShare[]
  instanceShares: SourceShare[]
  definitionShares: SourceShare[]
}

export interface SourceEmbedding {
  id: number
  projectId: number
  instanceId: number | null
  textId: string | null
  text: string | null
  vector: number[]
  vectorDim: number
  metadata: unknown
}

const q = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`
const orNull = (column: string | null, type: string) => (column ? q(column) : `null::${type}`)

export async function readSource(client: pg.ClientBase, layout: SourceLayout): Promise<SourceData> {
  const users = await client.query<SourceUser>(
    `select user_handle as handle, name, email, trim(${q(layout.userKeyColumn)}) as "keyHash" from users order by user_handle`,
  )
  const apiStandards = await client.query<SourceApiStandard>(
    `select api_standard_handle as handle, description, key_method as "keyMethod", key_field as "keyField" from api_standards order by api_standard_handle`,
  )
  const i = layout.instances
  const instances = await client.query<SourceInstance>(`
    select ${q(i.id)} as id, owner, ${q(i.handle)} as handle, endpoint, description, api_standard as "apiStandard", model, dimensions,
      ${orNull(i.contextLimit, 'int')} as "contextLimit", ${orNull(i.definitionId, 'int')} as "definitionId",
      ${orNull(i.plainKey, 'text')} as "plainKey", ${orNull(i.encryptedKey, 'bytea')} as "encryptedKey"
    from ${q(i.table)} order by ${q(i.id)}`)
  const d = layout.definitions
  const definitions = d
    ? await client.query<SourceDefinition>(`
        select definition_id as id, owner, definition_handle as handle, endpoint, description, api_standard as "apiStandard", model, dimensions,
          ${orNull(d.contextLimit, 'int')} as "contextLimit", coalesce(${orNull(d.isPublic, 'boolean')}, false) as "isPublic"
        from ${q(d.table)} order by definition_id`)
    : { rows: [] as SourceDefinition[] }
  const link = layout.projectInstance
  // Before version 4 a project could link several services; the reference's own migration 4
  // kept the first one linked, and so does this import.
  const instanceOf =
    link.kind === 'column'
      ? `p.${q(link.column)}`
      : `(select l.${q(link.instanceColumn)} from ${q(link.table)} l where l.project_id = p.project_id order by l.created_at, l.${q(link.instanceColumn)} limit 1)`
  const projects = await client.query<SourceProject>(`
    select p.project_id as id, p.owner, p.project_handle as handle, p.description, p.metadata_scheme as "metadataScheme",
      coalesce(${layout.projectsHavePublicRead ? 'p.public_read' : 'null::boolean'}, false) as "publicRead", ${instanceOf} as "instanceId"
    from projects p order by p.project_id`)
  const projectShares = await client.query<SourceShare>('select user_handle as user, project_id as id, role from users_projects order by project_id, user_handle')
  const s = layout.instanceShares
  const instanceShares = s
    ? await client.query<SourceShare>(`select user_handle as user, ${q(s.instanceColumn)} as id, role from ${q(s.table)} order by 2, 1`)
    : { rows: [] as SourceShare[] }
  const definitionShares = layout.definitionShares
    ? await client.query<SourceShare>(`select user_handle as user, definition_id as id, coalesce(role, 'reader') as role from ${q(layout.definitionShares.table)} order by 2, 1`)
    : { rows: [] as SourceShare[] }
  return {
    users: users.rows,
    apiStandards: apiStandards.rows,
    definitions: definitions.rows,
    instances: instances.rows,
    projects: projects.rows,
    projectShares: projectShares.rows,
    instanceShares: instanceShares.rows,
    definitionShares: definitionShares.rows,
  }
}

export async function countEmbeddings(client: pg.ClientBase): Promise<number> {
  const { rows } = await client.query<{ n: string }>('select count(*) as n from embeddings')
  return Number(rows[0]?.n ?? 0)
}

/**
 * The embeddings in id order, `pageSize` at a time. Vectors are `halfvec`; cast to pgvector's
 * float32 `vector` and then to `real[]`, every half-precision value arrives exactly.
 */
export async function* readEmbeddings(client: pg.ClientBase, layout: SourceLayout, pageSize: number): AsyncGenerator<SourceEmbedding[]> {
  let after = 0
  for (;;) {
    const { rows } = await client.query<SourceEmbedding>(
      `select embeddings_id as id, project_id as "projectId", ${q(layout.embeddingsInstanceColumn)} as "instanceId", text_id as "textId", text,
         vector::vector::real[] as vector, vector_dim as "vectorDim", metadata
       from embeddings where embeddings_id > $1 order by embeddings_id limit $2`,
      [after, pageSize],
    )
    if (rows.length === 0) return
    yield rows
    after = (rows[rows.length - 1] as SourceEmbedding).id
  }
}
