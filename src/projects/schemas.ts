import { type Static, Type } from 'typebox'
import { Paging, problemResponses, Timestamp } from '../http/schemas.js'
import { Handle, UserHandleParam } from '../identity/handle-schemas.js'
import { mergePatchSchema } from '../http/merge-patch.js'
import { ResourceHandle } from '../registry/schemas.js'

export { problemResponses }

const Role = Type.Union([Type.Literal('reader'), Type.Literal('editor')], {
  description: 'reader: may read and search; editor: may also upload and delete embeddings',
})
const CallerRole = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('editor'), Type.Literal('reader'), Type.Literal('public')])

/**
 * Body of PUT /v1/projects/{user}/{project} and POST /v1/projects/{user}. The fields of the
 * GET output that are not settable are accepted and ignored, so a client may send back what
 * it read.
 */
export const ProjectInput = Type.Object(
  {
    project_handle: ResourceHandle('Handle of the project'),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    metadataScheme: Type.Optional(
      Type.Union([Type.String({ maxLength: 100_000 }), Type.Object({}, { additionalProperties: true }), Type.Null()], {
        description: 'JSON Schema that every record\'s metadata must satisfy: a JSON string (as the reference API takes it) or an object',
      }),
    ),
    instance_owner: Type.Optional(Type.String({ ...UserHandleParam, description: 'Owner of the instance (default: the project owner)' })),
    instance_handle: Type.Optional(Type.String({ minLength: 3, maxLength: 61, description: 'The instance to bind: "handle" (own) or "owner/handle" (shared)' })),
    llm_service_instance_id: Type.Optional(Type.Integer({ minimum: 1, description: 'The instance to bind, by its instance_id (seed 000\'s form); instead of instance_handle' })),
    public_read: Type.Optional(Type.Boolean({ description: 'Anyone may read and search the project without a key' })),
    project_id: Type.Optional(Type.Unknown({ readOnly: true })),
    owner: Type.Optional(Type.Unknown({ readOnly: true })),
  },
  { additionalProperties: false },
)
export type ProjectInput = Static<typeof ProjectInput>

export const PROJECT_READ_ONLY = [
  'project_id', 'owner', 'role', 'shared_with', 'instance', 'number_of_embeddings', 'dimensions',
  'last_updated', 'created_at', 'updated_at', 'search_index', 'transfer_offer',
] as const
export const ProjectPatch = mergePatchSchema(ProjectInput, PROJECT_READ_ONLY)

export const ProjectBrief = Type.Object({
  owner: Type.String(),
  project_handle: Type.String(),
  project_id: Type.Integer(),
  public_read: Type.Boolean(),
  role: CallerRole,
})

const Share = Type.Object({ user_handle: Type.String(), role: Role })

export const TransferOffer = Type.Object({
  owner: Type.String(),
  project_handle: Type.String(),
  project_id: Type.Integer(),
  offered_to: Type.String({ description: 'The handle the project is offered to (whether or not a user has it)' }),
  offered_by: Type.String(),
  created_at: Timestamp,
  expires_at: Timestamp,
})
export const Project = Type.Object({
  project_id: Type.Integer(),
  project_handle: Type.String(),
  owner: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  metadataScheme: Type.Union([Type.String(), Type.Null()], { description: 'The metadata JSON Schema, serialised as a string' }),
  public_read: Type.Boolean(),
  instance: Type.Union([
    Type.Object({ owner: Type.String(), instance_handle: Type.String(), instance_id: Type.Integer(), access_role: Type.Union([Type.String(), Type.Null()]) }),
    Type.Null(),
  ]),
  role: CallerRole,
  shared_with: Type.Optional(Type.Array(Share, { description: 'Only for the owner and admins; includes shares to handles no user has (pending, granting nothing)' })),
  transfer_offer: Type.Optional(Type.Union([TransferOffer, Type.Null()], { description: 'Only for the owner and admins: the open offer to another user, if any' })),
  number_of_embeddings: Type.Integer(),
  dimensions: Type.Union([Type.Integer(), Type.Null()]),
  last_updated: Type.Union([Timestamp, Type.Null()], { description: 'When embeddings were last written or deleted' }),
  search_index: Type.Union([
    Type.Object({
      state: Type.String({ description: 'none, building, ready or failed' }),
      search: Type.String({ description: 'exact or index: how searches run now' }),
      rows_at_build: Type.Union([Type.Integer(), Type.Null()]),
      error: Type.Union([Type.String(), Type.Null()]),
    }),
    Type.Null(),
  ]),
  created_at: Timestamp,
  updated_at: Timestamp,
})

export const ProjectList = Type.Object({ projects: Type.Array(ProjectBrief) })
export const UserParams = Type.Object({ user_handle: UserHandleParam })
export const ProjectParams = Type.Object({ user_handle: UserHandleParam, project_handle: ResourceHandle('Handle of the project') })
export const ProjectUnshareParams = Type.Object({
  user_handle: UserHandleParam,
  project_handle: ResourceHandle('Handle of the project'),
  unshare_with_handle: UserHandleParam,
})
export const ProjectsQuery = Paging(10)
export const ShareProjectInput = Type.Object({ share_with_handle: Handle('The user to share with'), role: Role }, { additionalProperties: false })
export const ProjectShares = Type.Object({ owner: Type.String(), project_handle: Type.String(), shared_with: Type.Array(Share) })
export const TransferInput = Type.Object({ new_owner_handle: Handle('The user who will own the project') }, { additionalProperties: false })

export const TransferDone = Type.Object({ owner: Type.String(), project_handle: Type.String(), project_id: Type.Integer(), previous_owner: Type.String() })
export const TransferOffers = Type.Object({ received: Type.Array(TransferOffer), sent: Type.Array(TransferOffer) })
