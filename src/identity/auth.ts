import type { FastifyInstance } from 'fastify'
import { type ApiKeyVerifier, hashApiKey, isAdminKey } from './api-keys.js'
import { ADMIN, ANONYMOUS, type Caller } from './caller.js'
import { isReservedHandle } from './handles.js'
import { errors } from '../http/errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller
  }
  interface FastifyContextConfig {
    /**
     * `required` (default): a valid key is needed. `optional`: anonymous callers get through
     * (public projects), but a key that is sent must be valid. `none`: no authentication
     * (health checks, API documentation).
     */
    auth?: 'required' | 'optional' | 'none'
  }
}

/**
 * Decides who the caller is, once per request, from `Authorization: Bearer <key>` (a bare key
 * without `Bearer ` is accepted too, as the reference API does, and so is `x-api-key: <key>`). A wrong, revoked or expired
 * key is always 401, even on a route that anonymous callers may use.
 */
export function installAuth(app: FastifyInstance, options: { adminKey: string; keys: ApiKeyVerifier }) {
  const adminKeyHash = hashApiKey(options.adminKey)
  app.decorateRequest('caller', null as never)
  app.addHook('onRequest', async (request) => {
    request.caller = ANONYMOUS
    const mode = request.is404 ? 'none' : (request.routeOptions.config.auth ?? 'required')
    if (mode === 'none') return
    // Anthropic's SDKs send their key as `x-api-key`; accepting it lets them call /v1/messages as they are.
    const apiKeyHeader = request.headers['x-api-key']
    const header = request.headers.authorization ?? (typeof apiKeyHeader === 'string' ? apiKeyHeader : undefined)
    if (header === undefined) {
      if (mode === 'required') throw errors.unauthorized()
      return
    }
    const token = header.replace(/^Bearer\s+/i, '').trim()
    if (!token) throw errors.unauthorized()
    if (isAdminKey(token, adminKeyHash)) {
      request.caller = ADMIN
      return
    }
    const verified = await options.keys.verify(token)
    if (!verified || isReservedHandle(verified.handle)) throw errors.unauthorized()
    request.caller = { kind: 'user', userId: verified.userId, handle: verified.handle, role: verified.role, keyId: verified.keyId }
  })
}
