import type pg from 'pg'

/**
 * Which dhamps-vdb schema a database has. Its migrations (tern, version in `db_version`) are:
 * 1 the tables, 2 the HNSW indexes, 3 `projects.public_read`, 4 the split of `llm_services`
 * into definitions and instances (projects get one instance column, instances an encrypted
 * key, sharing tables appear), 5 definition sharing. Released builds of migration 4 named the
 * new tables differently (`definitions`/`instances` or `llm_service_definitions`/
 * `llm_service_instances`) and some kept the plain-text `api_key` column, so names and optional
 * columns are read from the catalog rather than assumed from the version.
 */
export interface SourceLayout {
  version: number
  /** The hex SHA-256 of the user's key: `vdb_key`, or `vdb_api_key` in early builds. */
  userKeyColumn: string
  projectsHavePublicRead: boolean
  instances: {
    table: string
    id: string
    handle: string
    plainKey: string | null
    encryptedKey: string | null
    contextLimit: string | null
    definitionId: string | null
  }
  definitions: { table: string; contextLimit: string | null; isPublic: string | null } | null
  /** How a project names its instance: a column (4+), or the first row of a link table (1–3). */
  projectInstance: { kind: 'column'; column: string } | { kind: 'links'; table: string; instanceColumn: string }
  /** Who else may use an instance: `instances_shared_with` (4+), or the non-owner rows of `users_llm_services` (1–3). */
  instanceShares: { table: string; instanceColumn: string } | null
  definitionShares: { table: string } | null
  embeddingsInstanceColumn: string
}

export class UnknownSchemaError extends Error {
  override name = 'UnknownSchemaError'
}

const OLDEST = 1
const NEWEST = 5

type Catalog = Map<string, Set<string>>

async function readCatalog(client: pg.ClientBase): Promise<Catalog> {
  const { rows } = await client.query<{ table_name: string; column_name: string }>(
    `select table_name, column_name from information_schema.columns where table_schema = current_schema() order by table_name, ordinal_position`,
  )
  const catalog: Catalog = new Map()
  for (const row of rows) {
    const columns = catalog.get(row.table_name) ?? new Set<string>()
    columns.add(row.column_name)
    catalog.set(row.table_name, columns)
  }
  return catalog
}

/** Reads the version and the layout, or refuses with a message naming what was found. */
export async function detectLayout(client: pg.ClientBase): Promise<SourceLayout> {
  const catalog = await readCatalog(client)
  const found = () => (catalog.size === 0 ? 'no tables at all' : `tables ${[...catalog.keys()].sort().join(', ')}`)
  if (!catalog.get('db_version')?.has('version')) {
    throw new UnknownSchemaError(`this is not a dhamps-vdb database: it has no db_version table (found ${found()})`)
  }
  const { rows } = await client.query<{ version: number | string | null }>('select max(version) as version from db_version')
  const version = Number(rows[0]?.version ?? Number.NaN)
  if (!Number.isInteger(version) || version < OLDEST || version > NEWEST) {
    throw new UnknownSchemaError(`dhamps-vdb schema version ${rows[0]?.version ?? 'none'} (db_version) is not one this import reads (versions ${OLDEST} to ${NEWEST})`)
  }

  const missing: string[] = []
  const table = (...names: string[]) => {
    const name = names.find((n) => catalog.has(n))
    if (!name) missing.push(`table ${names.join(' or ')}`)
    return name ?? (names[0] as string)
  }
  const column = (tableName: string, ...names: string[]) => {
    const columns = catalog.get(tableName)
    const name = names.find((n) => columns?.has(n))
    if (!name && columns) missing.push(`column ${tableName}.${names.join(' or ')}`)
    return name ?? (names[0] as string)
  }
  const optional = (tableName: string, name: string) => (catalog.get(tableName)?.has(name) ? name : null)

  for (const name of ['users', 'projects', 'users_projects', 'api_standards', 'embeddings']) table(name)
  const userKeyColumn = column('users', 'vdb_key', 'vdb_api_key')
  column('users', 'user_handle')
  for (const name of ['project_id', 'project_handle', 'owner', 'metadata_scheme']) column('projects', name)
  for (const name of ['embeddings_id', 'text_id', 'project_id', 'vector', 'vector_dim', 'metadata']) column('embeddings', name)

  let layout: SourceLayout
  if (version < 4) {
    const instances = table('llm_services')
    for (const name of ['owner', 'endpoint', 'api_standard', 'model', 'dimensions']) column(instances, name)
    const links = table('projects_llm_services')
    layout = {
      version,
      userKeyColumn,
      projectsHavePublicRead: optional('projects', 'public_read') !== null,
      instances: {
        table: instances,
        id: column(instances, 'llm_service_id'),
        handle: column(instances, 'llm_service_handle'),
        plainKey: optional(instances, 'api_key'),
        encryptedKey: null,
        contextLimit: optional(instances, 'context_limit'),
        definitionId: null,
      },
      definitions: null,
      projectInstance: { kind: 'links', table: links, instanceColumn: column(links, 'llm_service_id') },
      instanceShares: catalog.has('users_llm_services') ? { table: 'users_llm_services', instanceColumn: column('users_llm_services', 'llm_service_id') } : null,
      definitionShares: null,
      embeddingsInstanceColumn: column('embeddings', 'llm_service_id'),
    }
  } else {
    const instances = table('instances', 'llm_service_instances')
    for (const name of ['owner', 'endpoint', 'api_standard', 'model', 'dimensions']) column(instances, name)
    const definitions = table('definitions', 'llm_service_definitions')
    for (const name of ['definition_id', 'definition_handle', 'owner', 'endpoint', 'api_standard', 'model', 'dimensions']) column(definitions, name)
    const shares = table('instances_shared_with', 'llm_service_instances_shared_with')
    layout = {
      version,
      userKeyColumn,
      projectsHavePublicRead: optional('projects', 'public_read') !== null,
      instances: {
        table: instances,
        id: column(instances, 'instance_id'),
        handle: column(instances, 'instance_handle'),
        plainKey: optional(instances, 'api_key'),
        encryptedKey: optional(instances, 'api_key_encrypted'),
        contextLimit: optional(instances, 'context_limit'),
        definitionId: optional(instances, 'definition_id'),
      },
      definitions: { table: definitions, contextLimit: optional(definitions, 'context_limit'), isPublic: optional(definitions, 'is_public') },
      projectInstance: { kind: 'column', column: column('projects', 'instance_id', 'llm_service_instance_id') },
      instanceShares: { table: shares, instanceColumn: column(shares, 'instance_id') },
      definitionShares: version >= 5 ? { table: table('definitions_shared_with') } : null,
      embeddingsInstanceColumn: column('embeddings', 'instance_id', 'llm_service_instance_id'),
    }
  }
  if (missing.length > 0) {
    throw new UnknownSchemaError(`this database says dhamps-vdb schema version ${version}, but lacks ${missing.join(', ')} (found ${found()})`)
  }
  return layout
}

/** One line for the report: the version and the names this database uses. */
export function describeLayout(layout: SourceLayout): string {
  const tables = [layout.instances.table, layout.definitions?.table, layout.instanceShares?.table, layout.definitionShares?.table].filter(Boolean)
  const keys = [layout.instances.plainKey && 'plain-text keys', layout.instances.encryptedKey && 'encrypted keys'].filter(Boolean)
  return `dhamps-vdb schema version ${layout.version} (${tables.join(', ')}${keys.length > 0 ? `; ${keys.join(' and ')}` : ''})`
}
