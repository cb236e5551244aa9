import { Type } from 'typebox'

/** Schemas shared by every capability: problem responses, paging, timestamps (handles: identity/handle-schemas.ts). */

export const Problem = Type.Object(
  {
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'Stable error code; see docs/errors.md' }),
    request_id: Type.String(),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          message: Type.String(),
          location: Type.String(),
          value: Type.Optional(Type.Unknown()),
        }),
      ),
    ),
  },
  { $id: 'Problem', description: 'RFC 7807 problem details' },
)

/** Every route answers these on failure; listed once so each route's OpenAPI shows them. */
export const problemResponses = {
  400: Type.Ref('Problem'),
  401: Type.Ref('Problem'),
  403: Type.Ref('Problem'),
  404: Type.Ref('Problem'),
  409: Type.Ref('Problem'),
  413: Type.Ref('Problem'),
  422: Type.Ref('Problem'),
  500: Type.Ref('Problem'),
  503: Type.Ref('Problem'),
}

export const Paging = (defaultLimit: number) =>
  Type.Object(
    {
      limit: Type.Integer({ minimum: 1, maximum: 200, default: defaultLimit }),
      offset: Type.Integer({ minimum: 0, default: 0 }),
    },
  )

export const Timestamp = Type.String({ format: 'date-time' })
