import { Type } from 'typebox'
import { HANDLE_PATTERN, HANDLE_RULE, USER_PATH_PATTERN } from './handles.js'

/** Schemas of handles, for every capability's paths and bodies; the rules are in handles.ts. */

export const Handle = (description: string) =>
  Type.String({ pattern: HANDLE_PATTERN, 'x-error': HANDLE_RULE, description })

export const UserHandleParam = Type.String({
  pattern: USER_PATH_PATTERN,
  'x-error': HANDLE_RULE,
  description: 'Handle of the user that owns the resource',
})
