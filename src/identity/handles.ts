/**
 * Handles name users and resources in URLs. User handles are
 * 3–20 characters of `[a-z0-9._-]`, starting with a letter or digit, and case-insensitive:
 * the API folds them to lower case before anything else sees them.
 */
export const HANDLE_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{2,19}$'
export const HANDLE_RULE = 'must be 3 to 20 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit'

/**
 * Handles of resources (API standards, definitions, instances, projects): the same characters,
 * up to 40 long, because model names make long handles (`cohere-multilingual-v3`).
 */
export const RESOURCE_HANDLE_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{2,39}$'
export const RESOURCE_HANDLE_RULE = 'must be 3 to 40 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit'

/** The owner of the global definitions. It exists from the first migration; nobody logs in as it. */
export const SYSTEM_USER = '_system'

/** A path segment naming a user: any handle, or `_system` (which owns the global definitions). */
export const USER_PATH_PATTERN = '^(_system|[A-Za-z0-9][A-Za-z0-9._-]{2,19})$'

/**
 * Handles nobody may register. `admin` and `public` name the admin key and anonymous callers
 * in responses and logs (`role: "public"`), `_system` owns the global definitions; the rest
 * would confuse readers of a URL or of a share list.
 */
export const RESERVED_HANDLES: ReadonlySet<string> = new Set([
  SYSTEM_USER,
  'admin',
  'administrator',
  'public',
  'anonymous',
  'anyone',
  'everyone',
  'root',
  'system',
  'superuser',
  'owner',
  'llmbase',
  'api',
  'me',
  'self',
  'null',
  'undefined',
])

export const normalizeHandle = (handle: string) => handle.toLowerCase()

export const isReservedHandle = (handle: string) => RESERVED_HANDLES.has(normalizeHandle(handle))
