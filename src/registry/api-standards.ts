import { checkBody } from '../http/validation.js'
import { AppError, errors } from '../http/errors.js'
import { applyMergePatch, withoutReadOnly } from '../http/merge-patch.js'
import { isAdmin } from '../identity/caller.js'
import { normalizeHandle } from '../identity/handles.js'
import type { ApiStandardRow } from '../db/tables.js'
import type { RegistryContext } from './context.js'
import * as q from './queries/api-standards.js'
import { API_STANDARD_READ_ONLY, type ApiStandardInput, ApiStandardInput as ApiStandardInputSchema } from './schemas.js'

/**
 * API standards say how a provider takes its key. Anyone may read them (no key needed);
 * only an admin writes them.
 */
const notFound = (handle: string) => new AppError('api_standard_not_found', `API standard ${handle} not found`)

function assertAdmin(ctx: RegistryContext) {
  if (!isAdmin(ctx.caller)) throw errors.forbidden('only an admin may change API standards')
}

export async function getApiStandard(ctx: Pick<RegistryContext, 'db'>, handle: string): Promise<ApiStandardRow> {
  const standard = await q.findApiStandard(ctx.db, normalizeHandle(handle))
  if (!standard) throw notFound(normalizeHandle(handle))
  return standard
}

export const listApiStandards = (ctx: Pick<RegistryContext, 'db'>, page: { limit: number; offset: number }) =>
  q.listApiStandards(ctx.db, page)

export async function putApiStandard(ctx: RegistryContext, pathHandle: string | undefined, input: ApiStandardInput) {
  assertAdmin(ctx)
  const handle = normalizeHandle(input.api_standard_handle)
  if (pathHandle !== undefined && normalizeHandle(pathHandle) !== handle) {
    throw errors.handleMismatch('API standard', normalizeHandle(pathHandle), handle)
  }
  const keyField = input.key_method === 'none' ? null : (input.key_field ?? (input.key_method === 'auth_bearer' ? 'Authorization' : null))
  if (keyField === null && input.key_method !== 'none') {
    throw errors.validation([{ location: 'body.key_field', message: `is required when key_method is ${input.key_method}` }])
  }
  return q.upsertApiStandard(ctx.db, {
    handle,
    description: input.description ?? '',
    documentationUrl: input.documentation_url ?? null,
    keyMethod: input.key_method,
    keyField,
  })
}

export async function patchApiStandard(ctx: RegistryContext, handle: string, patch: Record<string, unknown>) {
  assertAdmin(ctx)
  const current = await getApiStandard(ctx, handle)
  const merged = applyMergePatch(toApiStandardInput(current), withoutReadOnly(patch, API_STANDARD_READ_ONLY))
  const issues = checkBody(ApiStandardInputSchema, merged)
  if (issues.length > 0) throw errors.validation(issues)
  return putApiStandard(ctx, current.handle, merged as ApiStandardInput)
}

/** Refused (409, naming the users) while a definition or an instance uses the standard. */
export async function deleteApiStandard(ctx: RegistryContext, handle: string) {
  assertAdmin(ctx)
  const standard = await getApiStandard(ctx, handle)
  const users = await q.findApiStandardUsers(ctx.db, standard.handle, 10)
  if (users.definitions.length + users.instances.length > 0) {
    const parts = [
      users.definitions.length ? `definitions ${users.definitions.join(', ')}` : '',
      users.instances.length ? `instances ${users.instances.join(', ')}` : '',
    ].filter(Boolean)
    throw new AppError('api_standard_in_use', `API standard ${standard.handle} is still used by ${parts.join(' and ')}; change or delete those first`)
  }
  await q.deleteApiStandard(ctx.db, standard.handle)
}

/** The stored standard as a PUT body (absent rather than null), for PATCH. */
function toApiStandardInput(row: ApiStandardRow): ApiStandardInput {
  return {
    api_standard_handle: row.handle,
    description: row.description,
    ...(row.documentation_url !== null ? { documentation_url: row.documentation_url } : {}),
    key_method: row.key_method,
    ...(row.key_field !== null ? { key_field: row.key_field } : {}),
  }
}

export function toApiStandardResponse(row: ApiStandardRow) {
  return {
    api_standard_handle: row.handle,
    description: row.description,
    documentation_url: row.documentation_url,
    key_method: row.key_method,
    key_field: row.key_field,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  }
}
