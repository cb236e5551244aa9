import { type Static, Type } from 'typebox'
import { Paging, problemResponses, Timestamp } from '../http/schemas.js'
import { Handle, UserHandleParam } from './handle-schemas.js'

const Email = Type.String({ format: 'email', minLength: 3, maxLength: 254, 'x-error': 'must be an email address' })
const Name = Type.String({ maxLength: 100 })
const Role = Type.Union([Type.Literal('user'), Type.Literal('admin')], { description: 'admin may do everything' })

/**
 * Body of PUT /v1/users/{user_handle} and POST /v1/users. `vdb_key`, `projects`, `instances`
 * and `definitions` are read-only fields of the reference API that its clients may echo back;
 * they are accepted and ignored.
 */
export const UserInput = Type.Object(
  {
    user_handle: Handle('Handle of the user (3–20 characters, case-insensitive)'),
    name: Type.Optional(Name),
    email: Email,
    role: Type.Optional(Role),
    vdb_key: Type.Optional(Type.String({ readOnly: true })),
    projects: Type.Optional(Type.Array(Type.Unknown(), { readOnly: true })),
    instances: Type.Optional(Type.Array(Type.Unknown(), { readOnly: true })),
    definitions: Type.Optional(Type.Array(Type.Unknown(), { readOnly: true })),
  },
  { additionalProperties: false },
)
export type UserInput = Static<typeof UserInput>

/** JSON merge patch of a user (RFC 7396): the fields present replace the stored ones. */
export const UserPatch = Type.Object(
  {
    user_handle: Type.Optional(Handle('Must equal the handle in the path if given')),
    name: Type.Optional(Type.Union([Name, Type.Null()])),
    email: Type.Optional(Email),
    role: Type.Optional(Role),
    vdb_key: Type.Optional(Type.Unknown({ readOnly: true })),
    projects: Type.Optional(Type.Unknown({ readOnly: true })),
    instances: Type.Optional(Type.Unknown({ readOnly: true })),
    definitions: Type.Optional(Type.Unknown({ readOnly: true })),
    created_at: Type.Optional(Type.Unknown({ readOnly: true })),
    updated_at: Type.Optional(Type.Unknown({ readOnly: true })),
  },
  { additionalProperties: false },
)
export type UserPatch = Static<typeof UserPatch>

export const UserCreated = Type.Object({
  user_handle: Type.String(),
  vdb_key: Type.String({ description: 'The new API key, shown only here; "not changed" when the user existed (the reference API\'s name)' }),
  key: Type.Optional(Type.String({ description: 'The same new key, under the name POST …/keys uses; absent when the user existed' })),
  key_id: Type.Optional(Type.String({ format: 'uuid' })),
})

const Access = Type.Union([Type.Literal('owner'), Type.Literal('editor'), Type.Literal('reader')])

export const User = Type.Object({
  user_handle: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  email: Type.String(),
  role: Role,
  created_at: Timestamp,
  updated_at: Timestamp,
  instances: Type.Array(Type.Object({ owner: Type.String(), instance_handle: Type.String(), role: Access }), {
    description: 'Instances the user owns or was given',
  }),
  definitions: Type.Array(Type.Object({ owner: Type.String(), definition_handle: Type.String(), role: Access }), {
    description: 'Definitions the user owns or was given (global and public ones are listed by /v1/llm-definitions)',
  }),
})

export const UserParams = Type.Object({ user_handle: UserHandleParam })
export const KeyParams = Type.Object({ user_handle: UserHandleParam, key_id: Type.String({ format: 'uuid', 'x-error': 'must be a key id (a UUID)' }) })
export const UsersQuery = Paging(10)
export const KeysQuery = Paging(50)

export const KeyInput = Type.Object(
  {
    label: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'What the key is for' })),
    expires_at: Type.Optional(Type.String({ format: 'date-time', description: 'When the key stops working (in the future)' })),
  },
  { additionalProperties: false },
)
export type KeyInput = Static<typeof KeyInput>

const KeyFields = {
  key_id: Type.String({ format: 'uuid' }),
  prefix: Type.String({ description: 'First characters of the key, to tell keys apart' }),
  label: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  expires_at: Type.Union([Timestamp, Type.Null()]),
}

export const KeyCreated = Type.Object({
  ...KeyFields,
  key: Type.String({ description: 'The API key, shown only in this response' }),
})

export const KeyInfo = Type.Object({
  ...KeyFields,
  last_used_at: Type.Union([Timestamp, Type.Null()], { description: 'Recorded within a few seconds of use' }),
  revoked_at: Type.Union([Timestamp, Type.Null()]),
  status: Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('revoked')]),
})

export const KeyList = Type.Object({ keys: Type.Array(KeyInfo) })

export { problemResponses }
