import { type Static, type TObject, type TProperties, Type } from 'typebox'
import { mergePatchSchema } from '../http/merge-patch.js'
import { Paging, problemResponses, Timestamp } from '../http/schemas.js'
import { Handle, UserHandleParam } from '../identity/handle-schemas.js'
import { RESOURCE_HANDLE_PATTERN, RESOURCE_HANDLE_RULE } from '../identity/handles.js'

export { problemResponses }

/** Handles of API standards, definitions and instances: 3–40 characters (`cohere-multilingual-v3` has 22). */
export const ResourceHandle = (description: string) =>
  Type.String({ pattern: RESOURCE_HANDLE_PATTERN, 'x-error': RESOURCE_HANDLE_RULE, description })

const Kind = Type.Union([Type.Literal('embedding'), Type.Literal('chat')], {
  description: 'embedding models turn text into vectors; chat models answer messages',
})
const KeyMethod = Type.Union(
  [Type.Literal('auth_bearer'), Type.Literal('custom_header'), Type.Literal('query_param'), Type.Literal('body_form'), Type.Literal('none')],
  { description: 'How the provider key travels: Authorization: Bearer, a header, a query parameter, a body field, or not at all' },
)
const Endpoint = Type.String({ minLength: 1, maxLength: 2048, description: 'Full URL of the provider endpoint, such as https://api.openai.com/v1/embeddings' })
const Model = Type.String({ minLength: 1, maxLength: 200, description: 'The model name the provider expects' })
const Dimensions = Type.Integer({ minimum: 1, maximum: 16000, description: 'Vector length; embedding models only' })
const ContextLimit = Type.Integer({ minimum: 0, maximum: 100_000_000, description: 'Input limit in tokens' })
const Description = Type.String({ maxLength: 2000 })
/**
 * A provider key travels in an HTTP header (or a query parameter), so only the characters a
 * header value may hold without quoting are accepted: visible ASCII, no spaces. A key pasted
 * with a placeholder (`sk-ant-…`, whose `…` is U+2026) used to be stored, then failed every
 * call with "could not reach the provider (UND_ERR_INVALID_ARG)".
 */
const ApiKey = Type.Union([Type.String({ minLength: 1, maxLength: 8192, pattern: '^[\\x21-\\x7e]+$' }), Type.Null()], {
  description: 'Write-only provider key (visible ASCII, no spaces): a string sets it, null removes it, absent keeps the stored one',
  writeOnly: true,
  'x-error': 'must be a key of visible ASCII characters without spaces (a placeholder such as "…" is not part of a key), or null',
})
const Role = Type.Union([Type.Literal('reader'), Type.Literal('editor')], {
  description: 'reader: may use it; editor: may also change its non-secret fields',
})
const AccessRole = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('editor'), Type.Literal('reader')])

// ---- gateway settings -------------------------------------------------------------------

// The bound keeps a cost (tokens × price) within the numeric(20, 10) columns of the gateway's
// accounting; real prices stay far below it.
const Price = Type.Number({ minimum: 0, maximum: 1_000_000, 'x-error': 'must be a number from 0 to 1000000' })
const PRICE_NAMES = ['input', 'output', 'cached_input', 'cache_write'] as const
const PRICES_RULE = 'must be null or an object of prices in USD per million tokens (input, output, cached_input, cache_write: each from 0 to 1000000)'

/** Per million tokens: input, output, input read from and written to the provider's prompt cache. */
const Prices = (description: string) =>
  Type.Union(
    [
      Type.Object(
        { input: Type.Optional(Price), output: Type.Optional(Price), cached_input: Type.Optional(Price), cache_write: Type.Optional(Price) },
        { additionalProperties: false },
      ),
      Type.Null(),
    ],
    { 'x-error': PRICES_RULE, description },
  )
const PRICES_DESCRIPTION = 'USD per million tokens, overriding the price table (an empty object counts as null)'

/** In a merge patch a single price may be null too: `{"prices": {"input": null}}` removes it. */
const PricePatch = Type.Union([Price, Type.Null()], { 'x-error': 'must be null or a number from 0 to 1000000' })
const PricesPatch = Type.Union(
  [Type.Object(Object.fromEntries(PRICE_NAMES.map((name) => [name, Type.Optional(PricePatch)])), { additionalProperties: false }), Type.Null()],
  { 'x-error': `${PRICES_RULE}; a price set to null is removed` },
)
const PricesResponse = Type.Union([
  Type.Object(Object.fromEntries(PRICE_NAMES.map((name) => [name, Type.Optional(Type.Number())]))),
  Type.Null(),
])
const CacheTtl = Type.Union([Type.Integer({ minimum: 1, maximum: 2_592_000 }), Type.Null()], {
  'x-error': 'must be null or a number of seconds from 1 to 2592000 (30 days)',
  description: "How long the gateway may answer a repeated request from its response cache; null: it never caches this instance's answers",
})

/**
 * The PATCH schema with the gateway fields in their own patch form: they accept null already
 * (one union rather than a union in a union, which would lose their error messages), and a
 * patch may reach into `prices`.
 */
function withGatewayPatchFields(patch: TObject, fields: TProperties): TObject {
  return Type.Object({ ...patch.properties, ...fields }, { additionalProperties: false })
}

/** Response fields that definitions and instances share. */
const ModelFieldsResponse = {
  kind: Kind,
  api_standard: Type.String(),
  endpoint: Type.String(),
  model: Type.String(),
  dimensions: Type.Union([Type.Integer(), Type.Null()]),
  context_limit: Type.Union([Type.Integer(), Type.Null()]),
  description: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  updated_at: Timestamp,
}

// ---- API standards ----------------------------------------------------------------------

export const ApiStandardInput = Type.Object(
  {
    api_standard_handle: ResourceHandle('Handle of the API standard'),
    description: Type.Optional(Description),
    documentation_url: Type.Optional(Type.Union([Type.String({ format: 'uri', maxLength: 2048 }), Type.Null()])),
    key_method: KeyMethod,
    key_field: Type.Optional(
      Type.Union([Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_.-]+$', 'x-error': 'must be a header, parameter or field name' }), Type.Null()], {
        description: 'Name of the header, query parameter or body field that carries the key (auth_bearer: Authorization)',
      }),
    ),
  },
  { additionalProperties: false },
)
export type ApiStandardInput = Static<typeof ApiStandardInput>

export const ApiStandard = Type.Object({
  api_standard_handle: Type.String(),
  description: Type.String(),
  documentation_url: Type.Union([Type.String(), Type.Null()]),
  key_method: KeyMethod,
  key_field: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  updated_at: Timestamp,
})
export const API_STANDARD_READ_ONLY = ['created_at', 'updated_at'] as const
export const ApiStandardPatch = mergePatchSchema(ApiStandardInput, API_STANDARD_READ_ONLY)
export const ApiStandardParams = Type.Object({ api_standard_handle: ResourceHandle('Handle of the API standard') })
export const ApiStandardList = Type.Object({ api_standards: Type.Array(ApiStandard) })
export const ApiStandardsQuery = Paging(20)

// ---- definitions ------------------------------------------------------------------------

export const DefinitionInput = Type.Object(
  {
    definition_handle: ResourceHandle('Handle of the definition'),
    kind: Type.Optional(Kind),
    api_standard: ResourceHandle('Handle of an API standard'),
    endpoint: Endpoint,
    model: Model,
    dimensions: Type.Optional(Dimensions),
    context_limit: Type.Optional(ContextLimit),
    description: Type.Optional(Description),
    is_public: Type.Optional(Type.Boolean({ description: 'Visible to, and usable by, every user' })),
    prices: Type.Optional(Prices(PRICES_DESCRIPTION)),
    owner: Type.Optional(Type.Unknown({ readOnly: true })),
    definition_id: Type.Optional(Type.Unknown({ readOnly: true })),
  },
  { additionalProperties: false },
)
export type DefinitionInput = Static<typeof DefinitionInput>

export const Definition = Type.Object({
  definition_id: Type.Integer(),
  definition_handle: Type.String(),
  owner: Type.String(),
  is_public: Type.Boolean(),
  prices: PricesResponse,
  ...ModelFieldsResponse,
})
export const DEFINITION_READ_ONLY = ['owner', 'definition_id', 'created_at', 'updated_at'] as const
export const DefinitionPatch = withGatewayPatchFields(mergePatchSchema(DefinitionInput, DEFINITION_READ_ONLY), {
  prices: Type.Optional(PricesPatch),
})

export const DefinitionSaved = Type.Object({
  definition_id: Type.Integer(),
  definition_handle: Type.String(),
  owner: Type.String(),
  is_public: Type.Boolean(),
})
export const DefinitionSummary = Type.Object({
  definition_id: Type.Integer(),
  definition_handle: Type.String(),
  owner: Type.String(),
  is_public: Type.Boolean(),
  kind: Kind,
  model: Type.String(),
  dimensions: Type.Union([Type.Integer(), Type.Null()]),
})
export const DefinitionList = Type.Object({ definitions: Type.Array(DefinitionSummary) })

export const UserParams = Type.Object({ user_handle: UserHandleParam })
export const DefinitionParams = Type.Object({ user_handle: UserHandleParam, definition_handle: ResourceHandle('Handle of the definition') })
export const DefinitionUnshareParams = Type.Object({
  user_handle: UserHandleParam,
  definition_handle: ResourceHandle('Handle of the definition'),
  unshare_with_handle: UserHandleParam,
})
export const ShareDefinitionInput = Type.Object(
  { share_with_handle: Handle('The user to share with') },
  { additionalProperties: false },
)
export const DefinitionShares = Type.Object({
  owner: Type.String(),
  definition_handle: Type.String(),
  shared_with: Type.Array(Type.String()),
})
export const ListQuery = Paging(20)

// ---- instances --------------------------------------------------------------------------

/** Fields of the reference API's instance body that are read-only here: accepted, ignored. */
const instanceReadOnly = {
  user_handle: Type.Optional(Type.Unknown({ readOnly: true })),
  owner: Type.Optional(Type.Unknown({ readOnly: true })),
  instance_id: Type.Optional(Type.Unknown({ readOnly: true })),
  definition_owner: Type.Optional(Type.Unknown({ readOnly: true })),
  definition_handle: Type.Optional(Type.Unknown({ readOnly: true })),
}

export const InstanceInput = Type.Object(
  {
    instance_handle: ResourceHandle('Handle of the instance (the deprecated name llm_service_handle is accepted too)'),
    kind: Type.Optional(Kind),
    api_standard: Type.Optional(ResourceHandle('Handle of an API standard (default openai)')),
    endpoint: Endpoint,
    model: Model,
    dimensions: Type.Optional(Dimensions),
    context_limit: Type.Optional(ContextLimit),
    description: Type.Optional(Description),
    api_key: Type.Optional(ApiKey),
    cache_ttl_seconds: Type.Optional(CacheTtl),
    prices: Type.Optional(Prices(PRICES_DESCRIPTION)),
    ...instanceReadOnly,
  },
  { additionalProperties: false },
)
export type InstanceInput = Static<typeof InstanceInput>

export const FromDefinitionInput = Type.Object(
  {
    instance_handle: ResourceHandle('Handle of the new instance'),
    definition_owner: Type.Optional(Type.String({ ...UserHandleParam, description: 'Owner of the definition (default _system)' })),
    definition_handle: ResourceHandle('Handle of the definition'),
    user_handle: Type.Optional(Handle('Must equal the user in the path if given')),
    api_standard: Type.Optional(ResourceHandle('Overrides the definition')),
    endpoint: Type.Optional(Endpoint),
    model: Type.Optional(Model),
    dimensions: Type.Optional(Dimensions),
    context_limit: Type.Optional(ContextLimit),
    description: Type.Optional(Description),
    api_key: Type.Optional(ApiKey),
    cache_ttl_seconds: Type.Optional(CacheTtl),
    prices: Type.Optional(Prices(`${PRICES_DESCRIPTION}; never copied from the definition, whose prices apply when the instance has none`)),
    owner: Type.Optional(Type.Unknown({ readOnly: true })),
    instance_id: Type.Optional(Type.Unknown({ readOnly: true })),
  },
  { additionalProperties: false },
)
export type FromDefinitionInput = Static<typeof FromDefinitionInput>

export const Instance = Type.Object({
  owner: Type.String(),
  instance_handle: Type.String(),
  instance_id: Type.Integer(),
  access_role: AccessRole,
  definition_id: Type.Union([Type.Integer(), Type.Null()]),
  definition_owner: Type.Union([Type.String(), Type.Null()]),
  definition_handle: Type.Union([Type.String(), Type.Null()]),
  has_api_key: Type.Boolean(),
  api_key_status: Type.Union([Type.Literal('ok'), Type.Literal('unreadable'), Type.Literal('not_encrypted'), Type.Null()], {
    description: 'ok: the key decrypts with the configured keys; unreadable: it was encrypted with a key this server lacks; not_encrypted: an imported key awaits `llmbase keys import-plaintext`',
  }),
  cache_ttl_seconds: Type.Union([Type.Integer(), Type.Null()]),
  prices: PricesResponse,
  ...ModelFieldsResponse,
})
export const INSTANCE_READ_ONLY = [
  'owner', 'instance_id', 'access_role', 'definition_id', 'definition_owner', 'definition_handle',
  'has_api_key', 'api_key_status', 'created_at', 'updated_at', 'user_handle',
] as const
export const InstancePatch = withGatewayPatchFields(mergePatchSchema(InstanceInput, INSTANCE_READ_ONLY), {
  cache_ttl_seconds: Type.Optional(CacheTtl),
  prices: Type.Optional(PricesPatch),
})

export const InstanceSaved = Type.Object({
  owner: Type.String(),
  instance_handle: Type.String(),
  instance_id: Type.Integer(),
})
export const InstanceSummary = Type.Object({
  owner: Type.String(),
  instance_handle: Type.String(),
  instance_id: Type.Integer(),
  access_role: AccessRole,
  kind: Kind,
  model: Type.String(),
  dimensions: Type.Union([Type.Integer(), Type.Null()]),
})
export const InstanceList = Type.Object({ instances: Type.Array(InstanceSummary) })

export const FromDefinitionParams = Type.Object({ user_handle: UserHandleParam, definition_handle: ResourceHandle('Handle of the definition (owned by definition_owner, default _system)') })
export const InstanceOrFromDefinition = Type.Union([InstanceInput, FromDefinitionInput], {
  description: 'An instance from a definition (definition_handle, definition_owner, api_key, …) or a whole instance (endpoint, model, …)',
})
export const InstanceParams = Type.Object({ user_handle: UserHandleParam, instance_handle: ResourceHandle('Handle of the instance') })
export const InstanceUnshareParams = Type.Object({
  user_handle: UserHandleParam,
  instance_handle: ResourceHandle('Handle of the instance'),
  unshare_with_handle: UserHandleParam,
})
export const ShareInstanceInput = Type.Object(
  { share_with_handle: Handle('The user to share with'), role: Role },
  { additionalProperties: false },
)
export const InstanceShareParams = Type.Object({
  user_handle: UserHandleParam,
  instance_handle: ResourceHandle('Handle of the instance'),
  share_with_handle: UserHandleParam,
})
export const ShareRoleInput = Type.Object({ role: Type.Optional(Role) }, { additionalProperties: false })
export const InstanceShares = Type.Object({
  owner: Type.String(),
  instance_handle: Type.String(),
  shared_with: Type.Array(Type.Object({ user_handle: Type.String(), role: Role })),
})
