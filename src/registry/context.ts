import { dimensionsProblem } from './embedding-dimensions.js'
import type { Executor } from '../db/database.js'
import { getOwnUser as getOwnUserOf } from '../identity/service.js'
import type { ModelFields, Prices, UserRow } from '../db/tables.js'
import type { EgressPolicy } from '../egress/policy.js'
import { endpointProblem } from '../egress/policy.js'
import { AppError, errors } from '../http/errors.js'
import { type Caller, isAdmin } from '../identity/caller.js'
import { SYSTEM_USER } from '../identity/handles.js'
import type { Keyring } from '../secrets/keyring.js'
import { findApiStandard } from './queries/api-standards.js'

/** What every registry operation needs: the database, who asks, and the server's policies. */
export interface RegistryContext {
  db: Executor
  caller: Caller
  keyring: Keyring
  egress: EgressPolicy
}

export type AccessRole = 'owner' | 'admin' | 'editor' | 'reader'

/**
 * The user named in the path, when the caller may act under it (itself, or any user for an
 * admin). Anyone else gets the same 404 whether the user exists or not.
 */
export async function getOwnUser(ctx: RegistryContext, handle: string): Promise<UserRow> {
  return getOwnUserOf(ctx, handle)
}

/** Only the admin writes global (`_system`) resources. */
export function assertMayWriteUnder(ctx: RegistryContext, owner: string, what: string) {
  if (owner === SYSTEM_USER && !isAdmin(ctx.caller)) throw errors.forbidden(`only an admin may change global ${what}`)
}

export async function assertApiStandardExists(db: Executor, handle: string) {
  if (!(await findApiStandard(db, handle))) {
    throw new AppError('unknown_api_standard', `API standard ${handle} does not exist`)
  }
}

/** The kind/dimensions rule and the endpoint policy, shared by definitions and instances. */
export function checkModelFields(
  fields: { kind: 'embedding' | 'chat'; dimensions: number | null; endpoint: string; model: string },
  egress: EgressPolicy,
) {
  if (fields.kind === 'embedding' && fields.dimensions === null) {
    throw errors.validation([{ location: 'body.dimensions', message: 'is required for embedding models (1 to 16000)' }])
  }
  const sizeProblem = fields.kind === 'embedding' && fields.dimensions !== null ? dimensionsProblem(fields.model, fields.dimensions) : null
  if (sizeProblem) throw errors.validation([{ location: 'body.dimensions', message: `does not fit the model: ${sizeProblem}`, value: fields.dimensions }])
  if (fields.kind === 'chat' && fields.dimensions !== null) {
    throw errors.validation([{ location: 'body.dimensions', message: 'applies only to embedding models', value: fields.dimensions }])
  }
  const problem = endpointProblem(fields.endpoint, egress)
  if (problem) throw new AppError('endpoint_not_allowed', `endpoint ${problem}`)
}

/**
 * Prices as stored: an object that names no price says nothing, so it is stored as null and
 * the prices of the next level (definition, then price table) apply, as with no object.
 */
export function pricesToStore(prices: Prices | null | undefined): Prices | null {
  return prices && Object.keys(prices).length > 0 ? prices : null
}

/** The model fields of a stored row as a request body (absent rather than null), for PATCH. */
export function modelFieldsAsInput(row: ModelFields) {
  return {
    kind: row.kind,
    api_standard: row.api_standard,
    endpoint: row.endpoint,
    model: row.model,
    ...(row.dimensions !== null ? { dimensions: row.dimensions } : {}),
    ...(row.context_limit !== null ? { context_limit: row.context_limit } : {}),
    ...(row.description !== null ? { description: row.description } : {}),
  }
}

/** The model fields of a stored row as a response. */
export function modelFieldsAsResponse(row: ModelFields & { created_at: Date; updated_at: Date }) {
  return {
    kind: row.kind,
    api_standard: row.api_standard,
    endpoint: row.endpoint,
    model: row.model,
    dimensions: row.dimensions,
    context_limit: row.context_limit,
    description: row.description,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  }
}
