import { Type } from 'typebox'
import { problemResponses } from '../http/schemas.js'
import { UserHandleParam } from '../identity/handle-schemas.js'
import { ResourceHandle } from '../registry/schemas.js'

export { problemResponses }

/** The reference API's search parameters, with `threshold` widened to -1…1 (D19) and `include`. */
export const SearchQuery = Type.Object({
  count: Type.Integer({ minimum: 1, maximum: 200, default: 10, description: 'Number of results (the smaller of count and limit is used)' }),
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 10, description: 'Number of results (the smaller of count and limit is used)' }),
  offset: Type.Integer({ minimum: 0, maximum: 10_000, default: 0, description: 'Results to skip' }),
  threshold: Type.Number({ minimum: -1, maximum: 1, default: 0.5, description: 'Lowest cosine similarity returned' }),
  metadata_path: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'A top-level metadata key; with metadata_value, records whose value equals it are left out' })),
  metadata_value: Type.Optional(Type.String({ maxLength: 1000 })),
  include: Type.Optional(Type.String({ pattern: '^(text|metadata)(,(text|metadata))*$', 'x-error': 'must be text, metadata, or text,metadata', description: 'Add text and/or metadata to each result: text, metadata or text,metadata' })),
})

export const SearchParams = Type.Object({ user_handle: UserHandleParam, project_handle: ResourceHandle('Handle of the project') })
export const SearchByIdParams = Type.Object({
  user_handle: UserHandleParam,
  project_handle: ResourceHandle('Handle of the project'),
  text_id: Type.String({ minLength: 1, maxLength: 1000 }),
})

/** `vector` or `text`, exactly one of them (checked in `search.ts`, where the message can say so). */
export const SearchByVector = Type.Object(
  {
    vector: Type.Optional(Type.Array(Type.Number(), { minItems: 1, maxItems: 16000, description: 'The query vector, with the project\'s dimensions; not stored. Send this or text' })),
    text: Type.Optional(
      Type.String({ minLength: 1, maxLength: 10_000_000, description: 'A query text, embedded through the project\'s instance (a gateway call accounted to the caller); not stored. Send this or vector' }),
    ),
    filter: Type.Optional(
      Type.Object({}, {
        additionalProperties: true,
        description: 'Metadata conditions, combined with AND: {"key": value} for equality, {"key": {"$ne"|"$in"|"$nin"|"$gt"|"$gte"|"$lt"|"$lte"|"$exists": …}}; "a.b" reaches nested keys',
      }),
    ),
  },
  { additionalProperties: false },
)

export const SearchResults = Type.Object({
  user_handle: Type.String(),
  project_handle: Type.String(),
  results: Type.Array(
    Type.Object({
      id: Type.String(),
      similarity: Type.Number({ description: 'Cosine similarity, from -1 to 1' }),
      text: Type.Optional(Type.Union([Type.String(), Type.Null()])),
      metadata: Type.Optional(Type.Unknown()),
    }),
  ),
})
