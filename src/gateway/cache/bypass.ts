import type { GatewayCallContext } from '../deps.js'

/** Whether the client asked to skip the cache (`Cache-Control: no-cache`/`no-store` or `x-llmbase-cache: bypass`). */
export function bypassesCache(request: GatewayCallContext): boolean {
  const control = String(request.headers['cache-control'] ?? '').toLowerCase()
  return /no-cache|no-store/.test(control) || String(request.headers['x-llmbase-cache'] ?? '').toLowerCase() === 'bypass'
}
