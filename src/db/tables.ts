import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely'

/**
 * Row types of every table, written to follow the SQL in `migrations/`. A column becomes an
 * API field only in the capability's mapper (`toUserResponse`, …), never by spreading a row.
 */
export interface Tables {
  users: UsersTable
  api_keys: ApiKeysTable
  schema_migrations: SchemaMigrationsTable
}

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>

export interface UsersTable {
  id: Generated<number>
  handle: string
  name: string | null
  email: string
  role: 'user' | 'admin'
  created_at: Timestamp
  updated_at: Timestamp
}
export type UserRow = Selectable<UsersTable>
export type NewUserRow = Insertable<UsersTable>
export type UserUpdate = Updateable<UsersTable>

export interface ApiKeysTable {
  id: Generated<string>
  user_id: number
  /** First characters of the key, shown in lists so that a user can tell keys apart. */
  prefix: string
  /** SHA-256 of the whole key. The key itself is never stored. */
  hash: Buffer
  label: string | null
  created_at: Timestamp
  expires_at: Date | null
  last_used_at: Date | null
  revoked_at: Date | null
}
export type ApiKeyRow = Selectable<ApiKeysTable>

export interface SchemaMigrationsTable {
  version: number
  name: string
  checksum: string
  applied_at: Timestamp
}
