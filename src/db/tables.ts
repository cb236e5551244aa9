import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely'

/**
 * Row types of every table, written to follow the SQL in `migrations/`. A column becomes an
 * API field only in the capability's mapper (`toUserResponse`, …), never by spreading a row.
 */
export interface Tables {
  users: UsersTable
  api_keys: ApiKeysTable
  schema_migrations: SchemaMigrationsTable
  api_standards: ApiStandardsTable
  llm_definitions: LlmDefinitionsTable
  llm_definition_shares: LlmDefinitionSharesTable
  llm_instances: LlmInstancesTable
  llm_instance_shares: LlmInstanceSharesTable
  projects: ProjectsTable
  project_shares: ProjectSharesTable
  pending_shares: PendingSharesTable
  project_transfer_offers: ProjectTransferOffersTable
  embeddings: EmbeddingsTable
  embedding_deletions: EmbeddingDeletionsTable
  vector_indexes: VectorIndexesTable
  llm_routes: LlmRoutesTable
  llm_route_targets: LlmRouteTargetsTable
  llm_requests: LlmRequestsTable
  llm_responses: LlmResponsesTable
  gateway_cache_entries: GatewayCacheEntriesTable
  gateway_limits: GatewayLimitsTable
  gateway_counters: GatewayCountersTable
  gateway_inflight: GatewayInflightTable
  jobs: JobsTable
  webhook_endpoints: WebhookEndpointsTable
  webhook_deliveries: WebhookDeliveriesTable
  webhook_attempts: WebhookAttemptsTable
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

export type KeyMethod = 'auth_bearer' | 'custom_header' | 'query_param' | 'body_form' | 'none'
export type ModelKind = 'embedding' | 'chat'
export type ShareRole = 'reader' | 'editor'

export interface ApiStandardsTable {
  handle: string
  description: string
  documentation_url: string | null
  key_method: KeyMethod
  key_field: string | null
  created_at: Timestamp
  updated_at: Timestamp
}
export type ApiStandardRow = Selectable<ApiStandardsTable>

/** The model fields that definitions and instances share. */
export interface ModelFields {
  kind: ModelKind
  api_standard: string
  endpoint: string
  model: string
  dimensions: number | null
  context_limit: number | null
  description: string | null
}

interface ModelColumns extends ModelFields {
  created_at: Timestamp
  updated_at: Timestamp
}

/** Prices in USD per million tokens; any field may be missing. */
export interface Prices {
  input?: number
  output?: number
  cached_input?: number
  cache_write?: number
}

export interface LlmDefinitionsTable extends ModelColumns {
  id: Generated<number>
  owner_id: number
  handle: string
  is_public: boolean
  prices: Generated<Prices | null>
}
export type DefinitionRow = Selectable<LlmDefinitionsTable>

export interface LlmDefinitionSharesTable {
  definition_id: number
  user_id: number
  created_at: Timestamp
}

export interface LlmInstancesTable extends ModelColumns {
  id: Generated<number>
  owner_id: number
  handle: string
  definition_id: number | null
  api_key_ciphertext: Buffer | null
  api_key_key_id: string | null
  api_key_plaintext: string | null
  cache_ttl_seconds: Generated<number | null>
  prices: Generated<Prices | null>
}
export type InstanceRow = Selectable<LlmInstancesTable>

export interface LlmInstanceSharesTable {
  instance_id: number
  user_id: number
  role: ShareRole
  created_at: Timestamp
}

export interface ProjectsTable {
  id: Generated<number>
  owner_id: number
  handle: string
  description: string | null
  instance_id: number | null
  metadata_schema: ColumnType<unknown, string | null, string | null> | null
  public_read: boolean
  embedding_count: Generated<number>
  embeddings_updated_at: Date | null
  vector_seq: Generated<number>
  vectors_cleared_seq: Generated<number>
  created_at: Timestamp
  updated_at: Timestamp
}
export type ProjectRow = Selectable<ProjectsTable>

export interface ProjectSharesTable {
  project_id: number
  user_id: number
  role: ShareRole
  created_at: Timestamp
}

/** A share addressed to a handle that no user has (migration 0009): listed, granting nothing. */
export interface PendingSharesTable {
  resource: 'project' | 'instance' | 'definition'
  resource_id: number
  handle: string
  /** Null for definitions, which have no roles. */
  role: ShareRole | null
  created_at: Timestamp
}

/** A project offered to a handle; the user with that handle accepts it (migration 0009). */
export interface ProjectTransferOffersTable {
  project_id: number
  to_handle: string
  offered_by: string
  created_at: Timestamp
  expires_at: Timestamp
}

export interface EmbeddingsTable {
  id: Generated<number>
  project_id: number
  text_id: string
  text: string | null
  /** pgvector `vector` (or our domain of the same name, migration 0005); written and read in its binary format. */
  vector: ColumnType<Buffer, Buffer, Buffer>
  dimensions: number
  metadata: ColumnType<unknown, string | null, string | null> | null
  /** The project's `vector_seq` of the last write (migration 0006). */
  change_seq: ColumnType<number, number, number>
  created_at: Timestamp
  updated_at: Timestamp
}

export interface EmbeddingDeletionsTable {
  project_id: number
  change_seq: number
  embedding_id: number
}

export interface VectorIndexesTable {
  project_id: number
  index_name: string
  dimensions: number
  state: 'building' | 'ready' | 'failed'
  rows_at_build: number
  error: string | null
  started_at: Timestamp
  finished_at: Date | null
}

export interface LlmRoutesTable {
  id: Generated<number>
  owner_id: number
  handle: string
  description: string | null
  strategy: 'fallback' | 'weighted'
  created_at: Timestamp
  updated_at: Timestamp
}

export interface LlmRouteTargetsTable {
  route_id: number
  position: number
  instance_id: number
  weight: number
}

/** `numeric` columns arrive as strings (exact decimals); we write numbers. */
type Decimal = ColumnType<string | null, number | null, number | null>

export interface LlmRequestsTable {
  id: string
  request_id: string
  user_id: number
  api_key_id: string | null
  operation: 'chat' | 'messages' | 'embeddings'
  model: string
  route_id: number | null
  instance_id: number | null
  stream: boolean
  status: number
  error_code: string | null
  error_message: string | null
  cache: 'off' | 'miss' | 'hit' | 'bypass'
  attempts: number
  prompt_tokens: number | null
  completion_tokens: number | null
  cached_tokens: number | null
  total_tokens: number | null
  cost_usd: Decimal
  latency_ms: number
  ttft_ms: number | null
  created_at: Date
}

export interface LlmResponsesTable {
  id: Generated<number>
  llm_request_id: string
  attempt: number
  instance_id: number | null
  provider: string
  model: string
  status: number | null
  error_code: string | null
  error_message: string | null
  latency_ms: number
  ttft_ms: number | null
  prompt_tokens: number | null
  completion_tokens: number | null
  cached_tokens: number | null
  cost_usd: Decimal
  created_at: Date
}

export interface GatewayCacheEntriesTable {
  key: string
  user_id: number
  instance_id: number
  response: unknown
  bytes: number
  hits: Generated<number>
  created_at: Generated<Date>
  expires_at: Date
}

export interface GatewayLimitsTable {
  id: Generated<number>
  user_id: number
  api_key_id: string | null
  requests_per_minute: number | null
  tokens_per_minute: number | null
  concurrent_requests: number | null
  usd_per_day: Decimal
  usd_per_month: Decimal
  updated_at: Generated<Date>
}

export interface GatewayCountersTable {
  scope: string
  window_kind: 'minute' | 'day' | 'month'
  window_start: Date
  requests: Generated<number>
  tokens: Generated<number>
  usd: ColumnType<string, number | undefined, number>
}

export interface GatewayInflightTable {
  scope: string
  id: string
  expires_at: Date
}

export type JobState = 'pending' | 'running' | 'succeeded' | 'failed' | 'dead' | 'cancelled'

/** One failed attempt of a job, kept in `jobs.errors`. */
export interface JobError {
  attempt: number
  at: string
  code: string
  message: string
}

export interface JobsTable {
  id: Generated<string>
  owner_id: number
  type: string
  payload: ColumnType<unknown, string | undefined, string>
  state: Generated<JobState>
  priority: Generated<number>
  run_at: Generated<Date>
  attempts: Generated<number>
  max_attempts: Generated<number>
  idempotency_key: string | null
  lease_token: string | null
  locked_by: string | null
  lease_until: Date | null
  progress_done: number | null
  progress_total: number | null
  checkpoint: ColumnType<unknown, string | null | undefined, string | null>
  result: ColumnType<unknown, string | null | undefined, string | null>
  errors: ColumnType<JobError[], string | undefined, string>
  debug: Generated<boolean>
  debug_log: ColumnType<unknown, string | null | undefined, string | null>
  webhook_url: string | null
  replays: Generated<number>
  created_at: Generated<Date>
  updated_at: Generated<Date>
  started_at: Date | null
  finished_at: Date | null
}
export type JobRow = Selectable<JobsTable>

export interface WebhookEndpointsTable {
  id: Generated<string>
  owner_id: number
  url: string
  description: string | null
  events: ColumnType<string[], string[] | undefined, string[]>
  secret_ciphertext: Buffer
  secret_key_id: string
  enabled: Generated<boolean>
  disabled_at: Date | null
  disabled_reason: string | null
  failing_since: Date | null
  created_at: Generated<Date>
  updated_at: Generated<Date>
}
export type WebhookEndpointRow = Selectable<WebhookEndpointsTable>

export type DeliveryState = 'pending' | 'retrying' | 'succeeded' | 'permanently_failed'

export interface WebhookDeliveriesTable {
  id: Generated<string>
  endpoint_id: string
  owner_id: number
  event: string
  job_id: string | null
  body: string
  state: Generated<DeliveryState>
  attempts: Generated<number>
  last_status: number | null
  last_error: string | null
  created_at: Generated<Date>
  updated_at: Generated<Date>
  delivered_at: Date | null
}
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>

export interface WebhookAttemptsTable {
  id: Generated<number>
  delivery_id: string
  attempt: number
  started_at: Date
  duration_ms: number
  status: number | null
  error: string | null
  response_excerpt: string | null
}
