/** Who is making a request, decided once per request by the auth hook (`src/identity/auth.ts`). */
export type Caller =
  | { kind: 'anonymous' }
  /** The admin key from configuration. */
  | { kind: 'admin' }
  /** `keyId` is null when no key is involved: a job runs as its owner (src/jobs/run-as.ts). */
  | { kind: 'user'; userId: number; handle: string; role: 'user' | 'admin'; keyId: string | null }

export const ANONYMOUS: Caller = { kind: 'anonymous' }
export const ADMIN: Caller = { kind: 'admin' }

/** The admin key and users with the `admin` role may do everything on every resource. */
export const isAdmin = (caller: Caller): boolean =>
  caller.kind === 'admin' || (caller.kind === 'user' && caller.role === 'admin')

/** True when the caller is the user `handle` (not merely an admin acting on it). */
export const isUser = (caller: Caller, handle: string): boolean => caller.kind === 'user' && caller.handle === handle
