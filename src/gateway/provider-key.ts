import type { UpstreamRequest } from './providers/types.js'
import type { Target } from './targets.js'

/** Headers every provider call carries; the provider's own come from its adapter. */
const BASE_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }

/**
 * Places the instance's key where its API standard says (a bearer token, a named header, a
 * query parameter or a body field) and serialises the body. The key is added here, after the
 * adapter, so adapters never see it and it cannot end up in a log of their output.
 */
export function withKey(request: UpstreamRequest, target: Target): { url: string; headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = { ...BASE_HEADERS, ...request.headers }
  let url = request.url
  let body = request.body as Record<string, unknown>
  const key = target.apiKey
  if (key !== null) {
    switch (target.keyMethod) {
      case 'auth_bearer':
        headers.authorization = `Bearer ${key}`
        break
      case 'custom_header':
        headers[(target.keyField ?? 'x-api-key').toLowerCase()] = key
        break
      case 'query_param': {
        const parsed = new URL(url)
        parsed.searchParams.set(target.keyField ?? 'key', key)
        url = parsed.toString()
        break
      }
      case 'body_form':
        body = { ...body, [target.keyField ?? 'api_key']: key }
        break
      case 'none':
        break
    }
  }
  return { url, headers, body: JSON.stringify(body) }
}
