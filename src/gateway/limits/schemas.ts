import { type Static, Type } from 'typebox'
import { problemResponses } from '../../http/schemas.js'
import { UserHandleParam } from '../../identity/handle-schemas.js'

export { problemResponses }

const Count = (description: string, maximum: number) =>
  Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum }), Type.Null()], { description: `${description}; null or absent: no limit` }))
// numeric(20, 6) in the database; a trillion dollars is limit enough.
const Usd = (description: string) =>
  Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 1e12 }), Type.Null()], { description: `${description} in USD; null or absent: no limit` }))

const INT4_MAX = 2_147_483_647

export const LimitsInput = Type.Object(
  {
    requests_per_minute: Count('Calls admitted per minute', INT4_MAX),
    tokens_per_minute: Count('Tokens (prompt and completion) per minute', Number.MAX_SAFE_INTEGER),
    concurrent_requests: Count('Calls in flight at once', INT4_MAX),
    usd_per_day: Usd('Spend per UTC day'),
    usd_per_month: Usd('Spend per UTC month'),
  },
  { additionalProperties: false },
)
export type LimitsInput = Static<typeof LimitsInput>

const Limit = Type.Union([Type.Number(), Type.Null()])
export const Limits = Type.Object({
  requests_per_minute: Limit,
  tokens_per_minute: Limit,
  concurrent_requests: Limit,
  usd_per_day: Limit,
  usd_per_month: Limit,
})
export type Limits = Static<typeof Limits>

export const Usage = Type.Object(
  {
    requests_this_minute: Type.Integer(),
    tokens_this_minute: Type.Integer(),
    in_flight: Type.Integer(),
    usd_today: Type.Number(),
    usd_this_month: Type.Number(),
  },
  { description: 'Counted only while limits are set; windows are UTC minutes, days and months' },
)
export type Usage = Static<typeof Usage>

export const LimitsState = Type.Object({ limits: Limits, usage: Usage })

export const UserParams = Type.Object({ user_handle: UserHandleParam })
export const KeyParams = Type.Object({
  user_handle: UserHandleParam,
  key_id: Type.String({ format: 'uuid', 'x-error': 'must be a key id (a UUID)' }),
})
