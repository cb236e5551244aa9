import { type Static, Type } from 'typebox'
import { Paging, problemResponses, Timestamp } from '../../http/schemas.js'
import { UserHandleParam } from '../../identity/handle-schemas.js'
import { ResourceHandle } from '../../registry/schemas.js'

export { problemResponses }

/** Up to 16 targets: more fallbacks than that only add waiting before an error. */
export const MAX_TARGETS = 16

/** `handle` (an instance of the route's owner) or `owner/handle`. */
const TARGET_PATTERN = '^([A-Za-z0-9][A-Za-z0-9._-]{2,19}/)?[A-Za-z0-9][A-Za-z0-9._-]{2,39}$'

const Strategy = Type.Union([Type.Literal('fallback'), Type.Literal('weighted')], {
  description: 'fallback: targets in order, the next one when one fails; weighted: the first target is drawn by weight, the others follow in order as fallbacks',
})

export const RouteTargetInput = Type.Object(
  {
    instance: Type.String({
      pattern: TARGET_PATTERN,
      'x-error': 'must be an instance handle, or owner/handle for an instance shared with the route owner',
      description: 'An instance the route owner may use: `handle` for its own, `owner/handle` for one shared with it',
    }),
    weight: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 1, description: 'Share of first choices under the weighted strategy' })),
  },
  { additionalProperties: false },
)

export const RouteInput = Type.Object(
  {
    route_handle: ResourceHandle('Handle of the route; the gateway accepts it as `model`'),
    description: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
    strategy: Type.Optional(Strategy),
    targets: Type.Array(RouteTargetInput, { minItems: 1, maxItems: MAX_TARGETS, description: 'Instances in fallback order, all of one kind (chat or embedding)' }),
  },
  { additionalProperties: false },
)
export type RouteInput = Static<typeof RouteInput>

const RouteTarget = Type.Object({
  instance: Type.String({ description: 'owner/handle' }),
  instance_id: Type.Integer(),
  kind: Type.Union([Type.Literal('embedding'), Type.Literal('chat')]),
  model: Type.String(),
  weight: Type.Integer(),
  position: Type.Integer({ description: 'Fallback order, from 1' }),
})

export const Route = Type.Object({
  owner: Type.String(),
  route_handle: Type.String(),
  route_id: Type.Integer(),
  description: Type.Union([Type.String(), Type.Null()]),
  strategy: Strategy,
  targets: Type.Array(RouteTarget),
  created_at: Timestamp,
  updated_at: Timestamp,
})
export type Route = Static<typeof Route>

export const RouteSaved = Type.Object({ owner: Type.String(), route_handle: Type.String(), route_id: Type.Integer() })
export const RouteList = Type.Object({ routes: Type.Array(Route) })
export const UserParams = Type.Object({ user_handle: UserHandleParam })
export const RouteParams = Type.Object({ user_handle: UserHandleParam, route_handle: ResourceHandle('Handle of the route') })
export const ListQuery = Paging(20)
