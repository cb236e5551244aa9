import { sql } from 'kysely'
import type { Executor } from '../../db/database.js'
import type { KeyMethod, ShareRole } from '../../db/tables.js'

/**
 * The import's SQL on the llmbase side: what is there already (to match items by owner and
 * handle, and records by text_id), and the inserts that need "insert if absent" rather than
 * the upserts the API uses, because an import never changes what llmbase holds. Everything
 * else goes through the capabilities' own queries.
 */
export const listUsers = (db: Executor) => db.selectFrom('users').select(['id', 'handle', 'name', 'email']).execute()

/** Which user holds each of these key hashes. */
export async function findKeyOwners(db: Executor, hashes: Buffer[]): Promise<Map<string, number>> {
  if (hashes.length === 0) return new Map()
  const rows = await db
    .selectFrom('api_keys')
    .select(['hash', 'user_id'])
    .where('hash', '=', sql<Buffer>`any(${hashes}::bytea[])`)
    .execute()
  return new Map(rows.map((row) => [row.hash.toString('hex'), row.user_id]))
}

/** The new user's id, or undefined when its handle or email was taken meanwhile. */
export async function insertUser(db: Executor, user: { handle: string; name: string | null; email: string }): Promise<number | undefined> {
  const row = await db
    .insertInto('users')
    .values({ handle: user.handle, name: user.name, email: user.email, role: 'user' })
    .onConflict((oc) => oc.doNothing())
    .returning('id')
    .executeTakeFirst()
  return row?.id
}

/**
 * The user's dhamps-vdb key, by its hash: the key itself was never stored, so the prefix that
 * lists show is a marker, not the key's first characters.
 */
export const insertImportedKey = (db: Executor, userId: number, hash: Buffer) =>
  db
    .insertInto('api_keys')
    .values({ user_id: userId, prefix: '(imported)', hash, label: 'imported from dhamps-vdb' })
    .onConflict((oc) => oc.doNothing())
    .execute()

export const listApiStandardHandles = async (db: Executor) => new Set((await db.selectFrom('api_standards').select('handle').execute()).map((r) => r.handle))

export const insertApiStandard = (db: Executor, standard: { handle: string; description: string; keyMethod: KeyMethod; keyField: string | null }) =>
  db
    .insertInto('api_standards')
    .values({ handle: standard.handle, description: standard.description, key_method: standard.keyMethod, key_field: standard.keyField })
    .onConflict((oc) => oc.doNothing())
    .execute()

export const listDefinitions = (db: Executor) =>
  db
    .selectFrom('llm_definitions')
    .select(['id', 'owner_id', 'handle', 'kind', 'api_standard', 'endpoint', 'model', 'dimensions', 'context_limit', 'description', 'is_public'])
    .execute()

export const listInstances = (db: Executor) =>
  db
    .selectFrom('llm_instances')
    .select(['id', 'owner_id', 'handle', 'kind', 'api_standard', 'endpoint', 'model', 'dimensions', 'context_limit', 'description', 'definition_id', 'api_key_ciphertext', 'api_key_key_id', 'api_key_plaintext'])
    .execute()

export const listProjects = (db: Executor) =>
  db.selectFrom('projects').select(['id', 'owner_id', 'handle', 'description', 'instance_id', 'metadata_schema', 'public_read']).execute()

export const listProjectShares = (db: Executor) => db.selectFrom('project_shares').select(['project_id as id', 'user_id', 'role']).execute()
export const listInstanceShares = (db: Executor) => db.selectFrom('llm_instance_shares').select(['instance_id as id', 'user_id', 'role']).execute()
export const listDefinitionShares = (db: Executor) =>
  db.selectFrom('llm_definition_shares').select(['definition_id as id', 'user_id', sql<ShareRole>`'reader'`.as('role')]).execute()

export interface StoredRecord {
  text_id: string
  text: string | null
  metadata: unknown
  vector: Buffer
}

/** The records of a project with these text ids, vectors in pgvector's binary format. */
export const findRecords = (db: Executor, projectId: number, textIds: string[]): Promise<StoredRecord[]> =>
  db
    .selectFrom('embeddings')
    .select(['text_id', 'text', 'metadata', sql<Buffer>`vector_send(vector)`.as('vector')])
    .where('project_id', '=', projectId)
    .where('text_id', '=', sql<string>`any(${textIds}::text[])`)
    .execute()
