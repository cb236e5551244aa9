import { type Static, type TSchema, Type } from 'typebox'
import { Paging, problemResponses, Timestamp } from '../http/schemas.js'
import { UserHandleParam } from '../identity/handle-schemas.js'
import { JOB_EVENTS } from './outbox.js'

export { problemResponses }

const EVENT_RULE = `must be one of ${JOB_EVENTS.join(', ')}`
const Event = Type.Union(
  JOB_EVENTS.map((event) => Type.Literal(event)),
  { 'x-error': EVENT_RULE },
)
const Events = Type.Array(Event, {
  uniqueItems: true,
  maxItems: JOB_EVENTS.length,
  description: `Job events sent to this endpoint for every job of its owner (${JOB_EVENTS.join(', ')}); [] sends only the events of jobs that name this URL as their webhook_url`,
})
const Url = Type.String({ minLength: 1, maxLength: 2000, description: 'An http or https URL; private addresses only where LLMBASE_PRIVATE_HOSTS allows them' })
const Description = Type.String({ maxLength: 2000 })

export const EndpointInput = Type.Object(
  {
    url: Url,
    description: Type.Optional(Description),
    events: Type.Optional(Events),
  },
  { additionalProperties: false },
)
export type EndpointInput = Static<typeof EndpointInput>

export const EndpointPatch = Type.Object(
  {
    url: Type.Optional(Url),
    description: Type.Optional(Type.Union([Description, Type.Null()])),
    events: Type.Optional(Events),
    enabled: Type.Optional(Type.Boolean({ description: 'true re-enables a disabled endpoint (and forgets its failures); false disables it' })),
  },
  { additionalProperties: false },
)
export type EndpointPatch = Static<typeof EndpointPatch>

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

const EndpointFields = {
  id: Type.String({ format: 'uuid' }),
  owner: Type.String(),
  url: Type.String(),
  description: Nullable(Type.String()),
  events: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  disabled_at: Nullable(Timestamp),
  disabled_reason: Nullable(Type.String()),
  failing_since: Nullable(Timestamp),
  created_at: Timestamp,
  updated_at: Timestamp,
}

/** An endpoint as every read shows it: never with its secret. */
export const Endpoint = Type.Object(EndpointFields)
export type Endpoint = Static<typeof Endpoint>

/** The answer of create and rotate-secret: the only two that show the secret. */
export const EndpointWithSecret = Type.Object({
  ...EndpointFields,
  secret: Type.String({ description: 'The signing secret (whsec_…); shown only now, store it' }),
})
export type EndpointWithSecret = Static<typeof EndpointWithSecret>

export const EndpointList = Type.Array(Endpoint)

const DeliveryStateSchema = Type.Union(
  [Type.Literal('pending'), Type.Literal('retrying'), Type.Literal('succeeded'), Type.Literal('permanently_failed')],
  { 'x-error': 'must be one of pending, retrying, succeeded, permanently_failed' },
)

const DeliveryFields = {
  id: Type.String({ format: 'uuid', description: 'Sent as the webhook-id header; the same on every attempt' }),
  endpoint_id: Type.String({ format: 'uuid' }),
  event: Type.String(),
  job_id: Nullable(Type.String({ format: 'uuid' })),
  state: DeliveryStateSchema,
  attempts: Type.Integer({ description: 'HTTP attempts so far, replays included' }),
  last_status: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
  delivered_at: Nullable(Timestamp),
}

export const Delivery = Type.Object(DeliveryFields)
export type Delivery = Static<typeof Delivery>
export const DeliveryList = Type.Array(Delivery)

const Attempt = Type.Object({
  attempt: Type.Integer(),
  started_at: Timestamp,
  duration_ms: Type.Number(),
  status: Nullable(Type.Integer({ description: 'Null when no response came (connection refused, timeout)' })),
  error: Nullable(Type.String()),
  response_excerpt: Nullable(Type.String({ description: "The first KiB of the receiver's answer" })),
})

export const DeliveryDetail = Type.Object({
  ...DeliveryFields,
  body: Type.String({ description: 'The exact bytes sent and signed' }),
  attempt_log: Type.Array(Attempt, { description: 'Every HTTP attempt, oldest first' }),
})
export type DeliveryDetail = Static<typeof DeliveryDetail>

export const UserParams = Type.Object({ user_handle: UserHandleParam })
const EndpointId = Type.String({ format: 'uuid', 'x-error': 'must be a webhook endpoint id (a UUID)' })
export const EndpointParams = Type.Object({ user_handle: UserHandleParam, endpoint_id: EndpointId })
export const DeliveryParams = Type.Object({
  user_handle: UserHandleParam,
  endpoint_id: EndpointId,
  delivery_id: Type.String({ format: 'uuid', 'x-error': 'must be a delivery id (a UUID)' }),
})

export const EndpointListQuery = Paging(50)
export const DeliveryListQuery = Type.Object({
  ...Paging(50).properties,
  state: Type.Optional(DeliveryStateSchema),
})
