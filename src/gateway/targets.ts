import { sql } from 'kysely'
import { RefreshAheadCache } from '../cache/refresh-ahead.js'
import type { Executor } from '../db/database.js'
import type { Prices } from '../db/tables.js'
import { normalizeHandle } from '../identity/handles.js'
import { readApiKey } from '../registry/instances.js'
import { usableBy } from '../registry/queries/instances.js'
import type { Keyring } from '../secrets/keyring.js'

/** One instance a call may go to, with everything the gateway needs to call it. */
export interface Target {
  instanceId: number
  /** `owner/handle`, for logs and errors. */
  name: string
  kind: 'chat' | 'embedding'
  apiStandard: string
  keyMethod: 'auth_bearer' | 'custom_header' | 'query_param' | 'body_form' | 'none'
  keyField: string | null
  endpoint: string
  model: string
  dimensions: number | null
  /** The decrypted provider key; it never leaves the server except to the provider. */
  apiKey: string | null
  cacheTtlSeconds: number | null
  /** The instance's prices, else its definition's; the price table fills what is missing. */
  prices: Prices | null
  weight: number
}

/** What a `model` name stands for: one instance, or a route's instances in fallback order. */
export interface Resolution {
  /** The name as it resolved: `owner/handle`. */
  name: string
  routeId: number | null
  strategy: 'single' | 'fallback' | 'weighted'
  targets: Target[]
}

export interface CallerScope {
  userId: number
  handle: string
  isAdmin: boolean
}

interface TargetRow {
  id: number
  owner: string
  handle: string
  kind: 'chat' | 'embedding'
  api_standard: string
  key_method: Target['keyMethod']
  key_field: string | null
  endpoint: string
  model: string
  dimensions: number | null
  api_key_ciphertext: Buffer | null
  api_key_key_id: string | null
  api_key_plaintext: string | null
  cache_ttl_seconds: number | null
  prices: Prices | null
  definition_prices: Prices | null
  weight: number
}

/**
 * Turns the `model` of a call into instances, keys decrypted. A resolution is remembered for
 * a few seconds per caller and name (and reloaded in the background while it is in use), so
 * the database is not on the path of calls; any
 * write through this process's API clears it, and other processes see a change within
 * `ttlMs` (docs/gateway.md#models-and-routes).
 */
export class TargetResolver {
  private readonly cache: RefreshAheadCache<string, Resolution | null>

  constructor(
    private readonly db: Executor,
    private readonly keyring: Keyring,
    ttlMs = 5_000,
  ) {
    this.cache = new RefreshAheadCache((key) => {
      const [userId, handle, isAdmin, model] = JSON.parse(key) as [number, string, boolean, string]
      return this.lookup({ userId, handle, isAdmin }, model)
    }, { ttlMs, max: 10_000 })
  }

  clear() {
    this.cache.clear()
  }

  /** The resolution, or null when the caller may use nothing of that name. */
  async resolve(caller: CallerScope, model: string): Promise<Resolution | null> {
    return this.cache.get(JSON.stringify([caller.userId, caller.handle, caller.isAdmin, model]))
  }

  private async lookup(caller: CallerScope, model: string): Promise<Resolution | null> {
    const found = await findModel(this.db, caller, model)
    return found && { ...found, targets: found.rows.map((row) => this.toTarget(row)) }
  }

  /**
   * An instance by id, without an access check: for callers that were already allowed to use
   * it by something else (a project bound to it, which the caller may write).
   */
  async byInstanceId(instanceId: number): Promise<Target | null> {
    const [row] = await instanceRows(this.db, { userId: 0, handle: '', isAdmin: true }, { instanceId })
    return row ? this.toTarget(row) : null
  }

  private toTarget(row: TargetRow): Target {
    return {
      instanceId: row.id,
      name: `${row.owner}/${row.handle}`,
      kind: row.kind,
      apiStandard: row.api_standard,
      keyMethod: row.key_method,
      keyField: row.key_field,
      endpoint: row.endpoint,
      model: row.model,
      dimensions: row.dimensions,
      apiKey: readApiKey(this.keyring, row),
      cacheTtlSeconds: row.cache_ttl_seconds,
      prices: row.prices ?? row.definition_prices,
      weight: row.weight,
    }
  }
}

/**
 * What a model name stands for, before any key is decrypted: the resolution without its
 * targets, and their rows. Null when the caller may use nothing of that name. Also what a
 * job's submission checks its model with (src/gateway/chat-batch-job.ts).
 */
export async function findModel(db: Executor, caller: CallerScope, model: string): Promise<(Omit<Resolution, 'targets'> & { rows: TargetRow[] }) | null> {
  const slash = model.indexOf('/')
  const owner = normalizeHandle(slash >= 0 ? model.slice(0, slash) : caller.handle)
  const handle = normalizeHandle(slash >= 0 ? model.slice(slash + 1) : model)
  if (!handle || handle.includes('/')) return null
  const [instance] = await instanceRows(db, caller, { owner, handle })
  if (instance) return { name: `${owner}/${handle}`, routeId: null, strategy: 'single', rows: [instance] }
  // Routes are used by their owner (or an admin): they are a user's own configuration.
  if (owner !== caller.handle && !caller.isAdmin) return null
  const route = await db
    .selectFrom('llm_routes as r')
    .innerJoin('users as u', 'u.id', 'r.owner_id')
    .select(['r.id', 'r.owner_id', 'r.strategy'])
    .where('u.handle', '=', owner)
    .where('r.handle', '=', handle)
    .executeTakeFirst()
  if (!route) return null
  const rows = await instanceRows(db, { userId: route.owner_id, handle: owner, isAdmin: false }, { routeId: route.id })
  return { name: `${owner}/${handle}`, routeId: route.id, strategy: route.strategy, rows }
}

/** Instances the user may use: owned or shared with them (an admin: any). */
function instanceRows(db: Executor, user: CallerScope, by: { owner: string; handle: string } | { routeId: number } | { instanceId: number }): Promise<TargetRow[]> {
  let query = db
    .selectFrom('llm_instances as i')
    .innerJoin('users as u', 'u.id', 'i.owner_id')
    .innerJoin('api_standards as a', 'a.handle', 'i.api_standard')
    .leftJoin('llm_definitions as d', 'd.id', 'i.definition_id')
    .select([
      'i.id', 'u.handle as owner', 'i.handle', 'i.kind', 'i.api_standard', 'a.key_method', 'a.key_field', 'i.endpoint', 'i.model',
      'i.dimensions', 'i.api_key_ciphertext', 'i.api_key_key_id', 'i.api_key_plaintext', 'i.cache_ttl_seconds', 'i.prices',
      'd.prices as definition_prices',
    ])
  if (!user.isAdmin) {
    query = query.where(usableBy(user.userId))
  }
  if ('routeId' in by) {
    return query
      .innerJoin('llm_route_targets as t', 't.instance_id', 'i.id')
      .select('t.weight')
      .where('t.route_id', '=', by.routeId)
      .orderBy('t.position')
      .execute() as Promise<TargetRow[]>
  }
  if ('instanceId' in by) {
    return query.select(sql<number>`1`.as('weight')).where('i.id', '=', by.instanceId).execute() as Promise<TargetRow[]>
  }
  return query
    .select(sql<number>`1`.as('weight'))
    .where('u.handle', '=', by.owner)
    .where('i.handle', '=', by.handle)
    .execute() as Promise<TargetRow[]>
}

/** Every instance and route the caller may name, for `GET /v1/models`. */
export async function listUsableModels(db: Executor, caller: CallerScope) {
  const instances = await db
    .selectFrom('llm_instances as i')
    .innerJoin('users as u', 'u.id', 'i.owner_id')
    .select(['u.handle as owner', 'i.handle', 'i.kind', 'i.model', 'i.created_at'])
    .where(usableBy(caller.userId))
    .orderBy(sql`u.handle collate "C"`)
    .orderBy(sql`i.handle collate "C"`)
    .execute()
  const routes = await db
    .selectFrom('llm_routes as r')
    .select(['r.handle', 'r.created_at'])
    .where('r.owner_id', '=', caller.userId)
    .orderBy(sql`r.handle collate "C"`)
    .execute()
  return { instances, routes }
}
