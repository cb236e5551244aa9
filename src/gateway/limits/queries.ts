import { CompiledQuery, sql } from 'kysely'
import type { Executor } from '../../db/database.js'
import { prepared } from '../../db/prepared.js'

/**
 * SQL of limits and budgets. A scope is `u:<user id>` or `k:<key id>`; its counters live in
 * `gateway_counters` per UTC minute (requests, tokens), day and month (spend).
 */

export const userScope = (userId: number) => `u:${userId}`
export const keyScope = (keyId: string) => `k:${keyId}`

export interface LimitValues {
  requests_per_minute: number | null
  tokens_per_minute: number | null
  concurrent_requests: number | null
  usd_per_day: number | null
  usd_per_month: number | null
}

const limitColumns = ['id', 'api_key_id', 'requests_per_minute', 'tokens_per_minute', 'concurrent_requests', 'usd_per_day', 'usd_per_month'] as const

export const findUserLimits = (db: Executor, userId: number) =>
  db.selectFrom('gateway_limits').select(limitColumns).where('user_id', '=', userId).where('api_key_id', 'is', null).executeTakeFirst()

export const findKeyLimits = (db: Executor, keyId: string) =>
  db.selectFrom('gateway_limits').select(limitColumns).where('api_key_id', '=', keyId).executeTakeFirst()

/** The user's own limits and those of the key, in one round trip: the enforcer's cache miss. */
export const findSubjectLimits = (db: Executor, userId: number, keyId: string | null) =>
  prepared(
    db
      .selectFrom('gateway_limits')
      .select(limitColumns)
      .where((eb) => {
        const own = eb.and([eb('user_id', '=', userId), eb('api_key_id', 'is', null)])
        return keyId === null ? own : eb.or([own, eb('api_key_id', '=', keyId)])
      }),
  ).execute()

export const upsertUserLimits = (db: Executor, userId: number, values: LimitValues) =>
  db
    .insertInto('gateway_limits')
    .values({ user_id: userId, api_key_id: null, ...values })
    .onConflict((oc) => oc.column('user_id').where('api_key_id', 'is', null).doUpdateSet({ ...values, updated_at: sql`now()` }))
    .execute()

export const upsertKeyLimits = (db: Executor, userId: number, keyId: string, values: LimitValues) =>
  db
    .insertInto('gateway_limits')
    .values({ user_id: userId, api_key_id: keyId, ...values })
    .onConflict((oc) => oc.column('api_key_id').where('api_key_id', 'is not', null).doUpdateSet({ ...values, updated_at: sql`now()` }))
    .execute()

export const deleteUserLimits = (db: Executor, userId: number) =>
  db.deleteFrom('gateway_limits').where('user_id', '=', userId).where('api_key_id', 'is', null).execute()

export const deleteKeyLimits = (db: Executor, keyId: string) => db.deleteFrom('gateway_limits').where('api_key_id', '=', keyId).execute()

export const keyBelongsTo = async (db: Executor, keyId: string, userId: number) =>
  (await db.selectFrom('api_keys').select('id').where('id', '=', keyId).where('user_id', '=', userId).executeTakeFirst()) !== undefined

/** The windows that count now, computed by the database so that every process agrees. */
const CURRENT_WINDOWS = `select now() as at,
    date_trunc('minute', now(), 'UTC') as minute,
    date_trunc('day', now(), 'UTC') as day,
    date_trunc('month', now(), 'UTC') as month`

const CURRENT_COUNTERS = `from w join gateway_counters c on c.scope = $1::text
    and (c.window_kind, c.window_start) in (('minute', w.minute), ('day', w.day), ('month', w.month))`

const USAGE_SQL = `with w as (${CURRENT_WINDOWS})
select
  coalesce(sum(c.requests) filter (where c.window_kind = 'minute'), 0)::bigint as requests_this_minute,
  coalesce(sum(c.tokens) filter (where c.window_kind = 'minute'), 0)::bigint as tokens_this_minute,
  coalesce(sum(c.usd) filter (where c.window_kind = 'day'), 0)::float8 as usd_today,
  coalesce(sum(c.usd) filter (where c.window_kind = 'month'), 0)::float8 as usd_this_month,
  (select count(*) from gateway_inflight f where f.scope = $1::text and f.expires_at > now())::int as in_flight
${CURRENT_COUNTERS}`

export interface Usage {
  requests_this_minute: number
  tokens_this_minute: number
  in_flight: number
  usd_today: number
  usd_this_month: number
}

/** Runs a fixed SQL text as a prepared statement: these run on every gateway call. */
function runPrepared<Row>(db: Executor, text: string, parameters: unknown[]) {
  const query = CompiledQuery.raw(text, parameters)
  prepared({ compile: () => query })
  return db.executeQuery<Row>(query)
}

export async function readUsage(db: Executor, scope: string): Promise<Usage> {
  const result = await db.executeQuery<Usage>(CompiledQuery.raw(USAGE_SQL, [scope]))
  const row = result.rows[0]
  if (!row) throw new Error('the usage query returned no row')
  return row
}

/** One scope's limits as the admission statement takes them; null: no limit. */
export interface ScopeLimitParams {
  scope: string
  requestsPerMinute: number | null
  tokensPerMinute: number | null
  /** Exact decimals, as the database stores them. */
  usdPerDay: string | null
  usdPerMonth: string | null
  concurrentRequests: number | null
}

export type LimitName = 'requests_per_minute' | 'tokens_per_minute' | 'concurrent_requests' | 'usd_per_day' | 'usd_per_month'

export interface AdmissionOutcome {
  /** The limit that refused the call, or null when it was admitted and counted. */
  refused: LimitName | null
  tokens_minute: number
  usd_day: number
  usd_month: number
  in_flight: number
  at: Date
  minute: Date
  day: Date
  month: Date
}

/**
 * Admits one call for one scope, or refuses it, in one statement. Spend and tokens are checked
 * against what finished calls recorded; the request counter is raised only when everything
 * else passes, and only while it is below the limit: `on conflict … do update … where` locks
 * the counter row and sees its latest value, so concurrent admissions on any number of
 * processes never overshoot. A concurrency slot is taken only when the call is counted; the
 * caller must hold the scope's limits row `for update`, taken in an earlier statement so that
 * this statement's snapshot sees the slots of whoever held the lock before.
 */
const ADMIT_SQL = `with w as (${CURRENT_WINDOWS}),
used as (
  select
    coalesce(sum(c.tokens) filter (where c.window_kind = 'minute'), 0)::bigint as tokens_minute,
    coalesce(sum(c.usd) filter (where c.window_kind = 'day'), 0) as usd_day,
    coalesce(sum(c.usd) filter (where c.window_kind = 'month'), 0) as usd_month
  ${CURRENT_COUNTERS}
),
flying as (
  select count(*)::int as n from gateway_inflight f
  where $6::int is not null and f.scope = $1::text and f.expires_at > now()
),
verdict as (
  select case
    when $5::numeric is not null and used.usd_month >= $5::numeric then 'usd_per_month'
    when $4::numeric is not null and used.usd_day >= $4::numeric then 'usd_per_day'
    when $3::bigint is not null and used.tokens_minute >= $3::bigint then 'tokens_per_minute'
    when $6::int is not null and flying.n >= $6::int then 'concurrent_requests'
    when $2::int = 0 then 'requests_per_minute'
  end as refused
  from used, flying
),
counted as (
  insert into gateway_counters as c (scope, window_kind, window_start, requests)
  select $1::text, 'minute', w.minute, 1 from w, verdict where verdict.refused is null
  on conflict (scope, window_kind, window_start) do update set requests = c.requests + 1
    where $2::int is null or c.requests < $2::int
  returning c.requests
),
slot as (
  insert into gateway_inflight (scope, id, expires_at)
  select $1::text, $7::uuid, now() + $8::float8 * interval '1 millisecond'
  from counted where $7::uuid is not null
)
select
  coalesce(verdict.refused, case when exists (select 1 from counted) then null else 'requests_per_minute' end) as refused,
  used.tokens_minute, used.usd_day::float8 as usd_day, used.usd_month::float8 as usd_month, flying.n as in_flight,
  w.at, w.minute, w.day, w.month
from w, used, flying, verdict`

export async function admitScope(db: Executor, limits: ScopeLimitParams, slot: { id: string; lifetimeMs: number } | null): Promise<AdmissionOutcome> {
  const result = await runPrepared<AdmissionOutcome>(db, ADMIT_SQL, [
    limits.scope,
    limits.requestsPerMinute,
    limits.tokensPerMinute,
    limits.usdPerDay,
    limits.usdPerMonth,
    limits.concurrentRequests,
    slot?.id ?? null,
    slot?.lifetimeMs ?? 0,
  ])
  const row = result.rows[0]
  if (!row) throw new Error('the admission statement returned no row')
  return row
}

/** Serialises the admissions of one scope while its slots are counted (see ADMIT_SQL). */
export const lockLimits = (db: Executor, limitsId: number) =>
  db.selectFrom('gateway_limits').select('id').where('id', '=', limitsId).forUpdate().execute()

/** Adds a finished call's tokens and spend to the current minute, day and month, and frees its slot. */
const RECORD_USE_SQL = `with freed as (
  delete from gateway_inflight where $2::uuid is not null and id = $2::uuid and scope = any($1::text[])
),
w as (${CURRENT_WINDOWS})
insert into gateway_counters as c (scope, window_kind, window_start, tokens, usd)
select s.scope, k.kind, case k.kind when 'minute' then w.minute when 'day' then w.day else w.month end, $3::bigint, $4::numeric
from unnest($1::text[]) with ordinality as s(scope, ord),
  (values (1, 'minute'), (2, 'day'), (3, 'month')) as k(ord, kind), w
where $3::bigint > 0 or $4::numeric > 0
-- One order for every writer, so that two finishing calls never wait on each other in a cycle.
order by s.ord, k.ord
on conflict (scope, window_kind, window_start) do update set tokens = c.tokens + excluded.tokens, usd = c.usd + excluded.usd`

export async function recordUse(db: Executor, scopes: string[], slotId: string | null, tokens: number, usd: number) {
  await runPrepared(db, RECORD_USE_SQL, [scopes, slotId, tokens, usd])
}

/**
 * Forgets what no longer counts: minute windows after an hour, days and months after two
 * months (the API reads only current windows), and slots of calls whose process died.
 */
const SWEEP_SQL = `with stale_counters as (
  delete from gateway_counters
  where (window_kind = 'minute' and window_start < now() - interval '1 hour')
     or window_start < now() - interval '2 months'
)
delete from gateway_inflight where expires_at <= now()`

export async function sweep(db: Executor) {
  await db.executeQuery(CompiledQuery.raw(SWEEP_SQL, []))
}
