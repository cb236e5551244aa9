import { randomUUID } from 'node:crypto'
import type { ChatChunk, ChatMessage, ContentPart, FinishReason, ProviderError, Usage } from './types.js'

/*
 * Provider bodies are read through these helpers rather than trusted types: a provider that
 * leaves out a field, or sends null where a list was documented, must give a degraded answer,
 * never a TypeError deep inside a translation.
 */

export type JsonObject = Record<string, unknown>

export const isObject = (value: unknown): value is JsonObject =>
  value !== null && typeof value === 'object' && !Array.isArray(value)

export const asObject = (value: unknown): JsonObject => (isObject(value) ? value : {})

export const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : [])

export const asString = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined)

export const asCount = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0)

/** Parses JSON a provider sent; a body that is not JSON reads as nothing. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Tool call arguments as an object; providers that take objects cannot take a broken string. */
export function argumentsObject(text: string | undefined): JsonObject {
  return asObject(parseJson(text ?? ''))
}

export const JSON_HEADERS: Readonly<Record<string, string>> = { 'content-type': 'application/json' }

export const nowSeconds = (): number => Math.floor(Date.now() / 1000)

/** For providers that send no id: unique, in OpenAI's form. */
export const generatedId = (prefix = 'chatcmpl'): string => `${prefix}-${randomUUID().replaceAll('-', '')}`

export const stopList = (stop: string | string[] | undefined): string[] | undefined =>
  stop === undefined ? undefined : typeof stop === 'string' ? [stop] : stop

/** Message content as parts, so every translation walks one shape. */
export function contentParts(content: ChatMessage['content']): ContentPart[] {
  if (typeof content === 'string') return content.length > 0 ? [{ type: 'text', text: content }] : []
  return Array.isArray(content) ? content : []
}

/** The text of a message, for the places a provider takes plain text only. */
export function contentText(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content
  return contentParts(content)
    .flatMap((part) => (part.type === 'text' ? [part.text] : []))
    .join('')
}

export interface DataUrl {
  mediaType: string
  base64: string
}

/** `data:<type>;base64,<data>`; anything else (plain URLs, percent-encoded data) is not one. */
export function parseDataUrl(url: string): DataUrl | null {
  const match = /^data:([^;,]*)(?:;[^;,]*)*;base64,/i.exec(url)
  if (!match) return null
  return { mediaType: match[1] || 'application/octet-stream', base64: url.slice(match[0].length) }
}

export interface TokenCounts {
  prompt: number
  completion: number
  /** When the provider states it; otherwise prompt + completion. */
  total?: number
  cached?: number
  cacheWrite?: number
  reasoning?: number
}

/** Usage in the gateway's shape; the optional counts are left out when zero. */
export function usageOf(counts: TokenCounts): Usage {
  const usage: Usage = {
    prompt_tokens: counts.prompt,
    completion_tokens: counts.completion,
    total_tokens: counts.total || counts.prompt + counts.completion,
  }
  if (counts.cached) usage.cached_tokens = counts.cached
  if (counts.cacheWrite) usage.cache_write_tokens = counts.cacheWrite
  if (counts.reasoning) usage.reasoning_tokens = counts.reasoning
  return usage
}

/** Builds the chunks of one stream: same id, creation time and model on every chunk. */
export class ChunkWriter {
  id: string
  model: string
  readonly created = nowSeconds()

  constructor(model: string, id = generatedId()) {
    this.model = model
    this.id = id
  }

  delta(delta: ChatChunk['choices'][number]['delta'], finishReason: FinishReason = null, index = 0): ChatChunk {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index, delta, finish_reason: finishReason }],
    }
  }

  /** OpenAI's last chunk when usage was asked for: no choices, only usage. */
  usage(usage: Usage): ChatChunk {
    return { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage }
  }
}

/** The error type OpenAI would give for an HTTP status, for providers whose bodies say less. */
export function errorTypeForStatus(status: number): string {
  if (status === 401) return 'authentication_error'
  if (status === 403) return 'permission_error'
  if (status === 404) return 'not_found_error'
  if (status === 429) return 'rate_limit_error'
  if (status >= 400 && status < 500) return 'invalid_request_error'
  return 'api_error'
}

/** A body that was not the JSON error envelope (an HTML page from a proxy, plain text). */
export function fallbackErrorMessage(status: number, body: unknown): string {
  if (typeof body === 'string' && body.trim().length > 0) return body.trim().slice(0, 500)
  return `provider answered with HTTP ${status}`
}

/**
 * A provider reported a failure inside a response the gateway had already accepted: an error
 * event in the middle of a stream, or a body that cannot be what was asked (fewer embeddings
 * than texts). Carries the error in the same shape `ProviderAdapter.error` gives.
 */
export class ProviderResponseError extends Error {
  readonly providerError: ProviderError

  constructor(providerError: ProviderError) {
    super(providerError.message)
    this.name = 'ProviderResponseError'
    this.providerError = providerError
  }
}

/** Embeddings must come back one per text, in order, or stored vectors would belong to the wrong text. */
export function checkedVectors(vectors: number[][], count: number): number[][] {
  if (vectors.length !== count) {
    throw new ProviderResponseError({
      message: `provider returned ${vectors.length} embeddings for ${count} texts`,
      type: 'api_error',
      code: 'embeddings_count_mismatch',
    })
  }
  return vectors
}

export const numberList = (value: unknown): number[] => asArray(value).filter((n): n is number => typeof n === 'number')
