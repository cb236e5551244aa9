import type { JsonObject } from './json.js'
import type { SseFrame } from './sse.js'
import type { AnswerSettings, ProviderFormat } from './text.js'

export type Operation = 'chat' | 'embeddings'

export interface Route {
  tag: string | null
  format: ProviderFormat
  operation: Operation
  /** Gemini names the model and the method in the path (`models/{model}:{method}`) */
  model?: string
  method?: string
}

export type Reply = { kind: 'json'; status: number; body: unknown } | { kind: 'stream'; frames: SseFrame[] }

export interface RequestContext {
  body: JsonObject
  route: Route
  query: URLSearchParams
  settings: AnswerSettings
  /** numbers this answer's ids apart from every other answer's */
  serial: number
}

/** One provider's wire format: its answers and its error body. */
export interface ProviderHandler {
  chat(request: RequestContext): Reply
  /** absent where the provider has no embeddings API */
  embeddings?(request: RequestContext): Reply
  errorBody(status: number, message: string): unknown
}

const fixedRoutes = new Map<string, Pick<Route, 'format' | 'operation'>>([
  ['/openai/v1/chat/completions', { format: 'openai', operation: 'chat' }],
  ['/openai/v1/embeddings', { format: 'openai', operation: 'embeddings' }],
  ['/anthropic/v1/messages', { format: 'anthropic', operation: 'chat' }],
  ['/cohere/v2/chat', { format: 'cohere', operation: 'chat' }],
  ['/cohere/v2/embed', { format: 'cohere', operation: 'embeddings' }],
])

const geminiMethods = new Map<string, Operation>([
  ['generateContent', 'chat'],
  ['streamGenerateContent', 'chat'],
  ['embedContent', 'embeddings'],
  ['batchEmbedContents', 'embeddings'],
])

const taggedPath = /^\/x\/([^/]+)(\/.*)$/
const geminiPath = /^\/gemini\/v1(?:beta)?\/models\/([^/:]+):([A-Za-z]+)$/
const formatPrefix = /^\/(openai|anthropic|cohere|gemini)\//

export function matchRoute(pathname: string): Route | null {
  const tagged = taggedPath.exec(pathname)
  const tag = tagged ? decodeSegment(tagged[1] as string) : null
  const path = tagged ? (tagged[2] as string) : pathname
  const fixed = fixedRoutes.get(path)
  if (fixed) return { tag, ...fixed }
  const gemini = geminiPath.exec(path)
  const operation = gemini && geminiMethods.get(gemini[2] as string)
  if (!gemini || !operation) return null
  return { tag, format: 'gemini', operation, model: decodeSegment(gemini[1] as string), method: gemini[2] as string }
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

/** For a path no route matches: the format whose error shape the 404 should take. */
export function formatOfPath(pathname: string): ProviderFormat {
  const path = taggedPath.exec(pathname)?.[2] ?? pathname
  return (formatPrefix.exec(path)?.[1] as ProviderFormat | undefined) ?? 'openai'
}
