import { retryOnUniqueViolation } from '../../db/errors.js'
import type { Executor } from '../../db/database.js'
import { getOwnUser as getOwnUserOf } from '../../identity/service.js'
import type { ModelKind, UserRow } from '../../db/tables.js'
import { AppError, errors, type ValidationIssue } from '../../http/errors.js'
import type { Caller } from '../../identity/caller.js'
import { normalizeHandle, SYSTEM_USER } from '../../identity/handles.js'
import * as q from './queries.js'
import type { Route, RouteInput } from './schemas.js'

/**
 * Routes are a user's own configuration: a named list of instances that the gateway's `model`
 * field can name. Only the user and admins see or change them; anyone else gets the 404 of a
 * user that does not exist. Targets are checked against what the route's owner may use, not
 * the caller, so an admin cannot hand a user an instance the user could not call directly.
 */
export interface RouteContext {
  db: Executor
  caller: Caller
}

const routeNotFound = (owner: string, handle: string) => new AppError('not_found', `route ${owner}/${handle} not found`)

async function getOwnUser(ctx: RouteContext, handle: string): Promise<UserRow> {
  return getOwnUserOf(ctx, handle)
}

interface ResolvedTarget {
  name: string
  instance_id: number
  kind: ModelKind
  weight: number
}

function parseTarget(reference: string, routeOwner: string) {
  const slash = reference.indexOf('/')
  return slash < 0
    ? { owner: routeOwner, handle: normalizeHandle(reference) }
    : { owner: normalizeHandle(reference.slice(0, slash)), handle: normalizeHandle(reference.slice(slash + 1)) }
}

/** Every target as an instance the owner may use, all of one kind; otherwise 400 naming each bad target. */
async function resolveTargets(db: Executor, owner: UserRow, targets: RouteInput['targets']): Promise<ResolvedTarget[]> {
  const resolved: ResolvedTarget[] = []
  const unusable: ValidationIssue[] = []
  const unusableNames: string[] = []
  for (const [index, target] of targets.entries()) {
    const { owner: instanceOwner, handle } = parseTarget(target.instance, owner.handle)
    const name = `${instanceOwner}/${handle}`
    const instance = await q.findCandidateInstance(db, instanceOwner, handle, owner.id)
    if (!instance || (instance.owner_id !== owner.id && !instance.share_role)) {
      unusable.push({ location: `body.targets[${index}].instance`, message: `${name} is not an instance ${owner.handle} may use`, value: target.instance })
      unusableNames.push(name)
      continue
    }
    resolved.push({ name, instance_id: instance.id, kind: instance.kind, weight: target.weight ?? 1 })
  }
  if (unusable.length > 0) {
    throw new AppError('unknown_target', `route targets must be instances that ${owner.handle} owns or that are shared with ${owner.handle}; not usable: ${unusableNames.join(', ')}`, { errors: unusable })
  }
  const kinds = new Set(resolved.map((target) => target.kind))
  if (kinds.size > 1) {
    const described = resolved.map((target) => `${target.name} (${target.kind})`).join(', ')
    throw new AppError('bad_request', `all targets of a route must be of one kind, chat or embedding: ${described}`)
  }
  return resolved
}

/** Creates or replaces a route with its targets. Concurrent PUTs of one handle all succeed; the last writer wins. */
export const putRoute = (ctx: RouteContext, ownerHandle: string, pathHandle: string, input: RouteInput) =>
  retryOnUniqueViolation(() => putRouteOnce(ctx, ownerHandle, pathHandle, input))

async function putRouteOnce(ctx: RouteContext, ownerHandle: string, pathHandle: string, input: RouteInput) {
  const handle = normalizeHandle(input.route_handle)
  if (normalizeHandle(pathHandle) !== handle) throw errors.handleMismatch('route', normalizeHandle(pathHandle), handle)
  const owner = await getOwnUser(ctx, ownerHandle)
  if (owner.handle === SYSTEM_USER) throw errors.forbidden('_system owns definitions, not routes')
  if (await q.instanceHandleTaken(ctx.db, owner.id, handle)) {
    throw new AppError('conflict', `${owner.handle} has an instance named ${handle}; the gateway resolves a bare model name to an instance before a route, so a route of that name could never be used; choose another handle`)
  }
  const targets = await resolveTargets(ctx.db, owner, input.targets)
  const saved = await ctx.db.transaction().execute(async (tx) => {
    const route = await q.upsertRoute(tx, { owner_id: owner.id, handle, description: input.description ?? null, strategy: input.strategy ?? 'fallback' })
    await q.replaceTargets(tx, route.id, targets.map(({ instance_id, weight }) => ({ instance_id, weight })))
    return route
  })
  return { owner: owner.handle, route_handle: handle, route_id: saved.id }
}

export async function getRoute(ctx: RouteContext, ownerHandle: string, handle: string): Promise<Route> {
  const owner = await getOwnUser(ctx, ownerHandle)
  const name = normalizeHandle(handle)
  const route = await q.findRoute(ctx.db, owner.id, name)
  if (!route) throw routeNotFound(owner.handle, name)
  return toRouteResponse(route, await q.listTargets(ctx.db, [route.id]))
}

export async function listRoutes(ctx: RouteContext, ownerHandle: string, page: { limit: number; offset: number }): Promise<Route[]> {
  const owner = await getOwnUser(ctx, ownerHandle)
  const routes = await q.listRoutes(ctx.db, owner.id, page)
  const targets = await q.listTargets(ctx.db, routes.map((route) => route.id))
  return routes.map((route) => toRouteResponse(route, targets.filter((target) => target.route_id === route.id)))
}

export async function deleteRoute(ctx: RouteContext, ownerHandle: string, handle: string) {
  const owner = await getOwnUser(ctx, ownerHandle)
  const name = normalizeHandle(handle)
  if (!(await q.deleteRoute(ctx.db, owner.id, name))) throw routeNotFound(owner.handle, name)
}

function toRouteResponse(route: q.RouteRow, targets: q.TargetRow[]): Route {
  return {
    owner: route.owner,
    route_handle: route.handle,
    route_id: route.id,
    description: route.description,
    strategy: route.strategy,
    targets: targets.map((target) => ({
      instance: `${target.instance_owner}/${target.instance_handle}`,
      instance_id: target.instance_id,
      kind: target.kind,
      model: target.model,
      weight: target.weight,
      position: target.position,
    })),
    created_at: route.created_at.toISOString(),
    updated_at: route.updated_at.toISOString(),
  }
}
