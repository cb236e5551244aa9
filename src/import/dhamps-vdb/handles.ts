import { isReservedHandle, normalizeHandle, SYSTEM_USER } from '../../identity/handles.js'

/**
 * dhamps-vdb allowed any 3–20 characters in a handle; llmbase folds them to lower case and
 * allows `a-z 0-9 . _ -` (docs/compatibility.md, "Handles"). A handle is folded and kept when
 * it then fits. One that does not, one that is reserved, and one that folds onto another is
 * reported and skipped, never renamed: a renamed user would find none of its URLs working. Of
 * handles that fold onto the same one, the one already in lower case keeps it.
 */
const USER_HANDLE = /^[a-z0-9][a-z0-9._-]{2,19}$/
const RESOURCE_HANDLE = /^[a-z0-9][a-z0-9._-]{2,39}$/

export type HandleKind = 'user' | 'resource'

export type Mapped = { handle: string } | { problem: string }

/**
 * Maps each of `handles` (the handles of one namespace: all users, or one owner's projects) to
 * llmbase's handle or to the reason it cannot be imported.
 */
export function mapHandles(handles: readonly string[], kind: HandleKind): Map<string, Mapped> {
  const folded = new Map<string, string[]>()
  for (const handle of handles) {
    const lower = normalizeHandle(handle)
    folded.set(lower, [...(folded.get(lower) ?? []), handle])
  }
  const mapped = new Map<string, Mapped>()
  for (const handle of handles) {
    const lower = normalizeHandle(handle)
    const problem = handleProblem(lower, kind)
    if (problem) {
      mapped.set(handle, { problem })
      continue
    }
    const others = (folded.get(lower) ?? []).filter((h) => h !== handle)
    if (others.length === 0 || handle === lower) mapped.set(handle, { handle: lower })
    else mapped.set(handle, { problem: `folds to ${lower}, as ${others.map((h) => `"${h}"`).join(' and ')} does; llmbase handles are case-insensitive` })
  }
  return mapped
}

/**
 * Resource handles are unique per owner: each owner's are mapped together, so that collisions
 * after folding are found. Returns the lookup of one item.
 */
export function mapOwnedHandles(items: ReadonlyArray<{ owner: string; handle: string }>): (item: { owner: string; handle: string }) => Mapped {
  const byOwner = new Map<string, string[]>()
  for (const item of items) byOwner.set(item.owner, [...(byOwner.get(item.owner) ?? []), item.handle])
  const mapped = new Map<string, Mapped>()
  for (const [owner, handles] of byOwner) for (const [handle, result] of mapHandles(handles, 'resource')) mapped.set(`${owner}\u0000${handle}`, result)
  return (item) => mapped.get(`${item.owner}\u0000${item.handle}`) as Mapped
}

function handleProblem(handle: string, kind: HandleKind): string | null {
  if (kind === 'user' && handle === SYSTEM_USER) return null
  if (kind === 'user' && isReservedHandle(handle)) return `${handle} is a reserved handle in llmbase`
  const pattern = kind === 'user' ? USER_HANDLE : RESOURCE_HANDLE
  if (!pattern.test(handle)) {
    return `is not a valid llmbase handle (${kind === 'user' ? '3–20' : '3–40'} characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit)`
  }
  return null
}
