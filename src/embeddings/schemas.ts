import { type Static, Type } from 'typebox'
import { Paging, problemResponses } from '../http/schemas.js'
import { UserHandleParam } from '../identity/handle-schemas.js'
import { ResourceHandle } from '../registry/schemas.js'

export { problemResponses }

const TextId = Type.String({ minLength: 1, maxLength: 1000, description: 'Identifier of the text, stored as given (1–1,000 characters)' })

/**
 * One record of a batch upload, with the reference API's fields. `vector_dim`, the handles
 * and `project_id` are optional here (the reference required them); when given they must
 * agree with the project. `llm_service_handle` is the older name of `instance_handle`.
 * `vector` may be left out when `text` is sent: the server then computes it (`computed.ts`).
 */
export const EmbeddingInput = Type.Object(
  {
    text_id: TextId,
    vector: Type.Optional(Type.Array(Type.Number(), { minItems: 1, maxItems: 16000, description: 'Required unless text is sent, from which the server then computes it' })),
    vector_dim: Type.Optional(Type.Integer({ minimum: 1, maximum: 16000, description: 'Must equal the vector length and the instance dimensions' })),
    text: Type.Optional(Type.Union([Type.String({ maxLength: 10_000_000 }), Type.Null()])),
    metadata: Type.Optional(Type.Unknown({ description: 'Any JSON; an object when the project has a metadata schema. On update, merged into the stored metadata (null deletes a key)' })),
    instance_handle: Type.Optional(Type.String({ maxLength: 61 })),
    llm_service_handle: Type.Optional(Type.String({ maxLength: 61, description: 'Deprecated name of instance_handle' })),
    instance_owner: Type.Optional(Type.String({ maxLength: 20 })),
    user_handle: Type.Optional(Type.String({ maxLength: 20 })),
    project_handle: Type.Optional(Type.String({ maxLength: 40 })),
    project_id: Type.Optional(Type.Integer()),
  },
  { additionalProperties: false },
)
export type EmbeddingInput = Static<typeof EmbeddingInput>

/** A record once it has its vector, sent or computed: what is checked and written. */
export type EmbeddingRecord = EmbeddingInput & { vector: number[] }

export const UploadInput = Type.Object({ embeddings: Type.Array(EmbeddingInput, { minItems: 1 }) }, { additionalProperties: false })
export type UploadInput = Static<typeof UploadInput>

export const Embedding = Type.Object({
  text_id: Type.String(),
  user_handle: Type.String(),
  project_handle: Type.String(),
  project_id: Type.Integer(),
  instance_handle: Type.Union([Type.String(), Type.Null()]),
  instance_owner: Type.Union([Type.String(), Type.Null()]),
  text: Type.Optional(Type.String()),
  vector: Type.Array(Type.Number()),
  vector_dim: Type.Integer(),
  metadata: Type.Optional(Type.Unknown()),
})

export const EmbeddingList = Type.Object({ embeddings: Type.Array(Embedding) })
export const ProjectParams = Type.Object({ user_handle: UserHandleParam, project_handle: ResourceHandle('Handle of the project') })
export const EmbeddingParams = Type.Object({
  user_handle: UserHandleParam,
  project_handle: ResourceHandle('Handle of the project'),
  text_id: TextId,
})
export const EmbeddingsQuery = Paging(20)
export const Uploaded = Type.Object({ ids: Type.Array(Type.String(), { description: 'The text ids, in the order sent' }) })

export const ImportQuery = Type.Object({
  batch_size: Type.Integer({ minimum: 1, maximum: 5000, default: 1000, description: 'Lines written per transaction' }),
})

export const ImportReport = Type.Object({
  lines: Type.Integer({ description: 'Lines read (blank lines are not counted)' }),
  imported: Type.Integer({ description: 'Records written' }),
  rejected: Type.Integer({ description: 'Records not written: their batch held a bad line' }),
  batches: Type.Array(
    Type.Object({
      first_line: Type.Integer(),
      last_line: Type.Integer(),
      status: Type.Union([Type.Literal('imported'), Type.Literal('rejected')]),
    }),
  ),
  errors: Type.Array(
    Type.Object({ line: Type.Integer(), text_id: Type.Union([Type.String(), Type.Null()]), message: Type.String() }),
    { description: 'At most 1,000 line errors' },
  ),
})
