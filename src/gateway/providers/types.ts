/**
 * The one request shape every provider translates to and from. It is OpenAI's chat
 * completions shape, because that is what most clients speak and what the richest
 * translations start from; `/v1/messages` (Anthropic's shape) is translated into it on the
 * way in and out of it on the way back. Fields the gateway does not know are kept and sent on
 * to OpenAI-compatible providers unchanged, so new provider features pass through.
 */

export type Role = 'system' | 'developer' | 'user' | 'assistant' | 'tool'

export type ContentPart =
  | { type: 'text'; text: string }
  | { type: 'image_url'; image_url: { url: string; detail?: 'auto' | 'low' | 'high' } }
  | { type: 'input_audio'; input_audio: { data: string; format: string } }
  | { type: 'file'; file: { file_data?: string; file_id?: string; filename?: string } }

export interface ToolCall {
  id: string
  type: 'function'
  function: { name: string; arguments: string }
}

export interface ChatMessage {
  role: Role
  content?: string | ContentPart[] | null
  name?: string
  /** assistant messages that called tools */
  tool_calls?: ToolCall[]
  /** tool messages: the call they answer */
  tool_call_id?: string
  [extra: string]: unknown
}

export interface ToolDefinition {
  type: 'function'
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean }
}

export type ToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } }

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: { name: string; schema?: Record<string, unknown>; strict?: boolean; description?: string } }

export interface ChatRequest {
  model: string
  messages: ChatMessage[]
  stream?: boolean
  stream_options?: { include_usage?: boolean }
  tools?: ToolDefinition[]
  tool_choice?: ToolChoice
  parallel_tool_calls?: boolean
  response_format?: ResponseFormat
  temperature?: number
  top_p?: number
  max_tokens?: number
  max_completion_tokens?: number
  stop?: string | string[]
  n?: number
  seed?: number
  presence_penalty?: number
  frequency_penalty?: number
  user?: string
  [extra: string]: unknown
}

export interface Usage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  /** Input tokens read from the provider's prompt cache (billed at a lower price by most). */
  cached_tokens?: number
  /** Input tokens written to the provider's prompt cache (Anthropic bills them higher). */
  cache_write_tokens?: number
  reasoning_tokens?: number
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | null

export interface ChatCompletion {
  id: string
  object: 'chat.completion'
  created: number
  model: string
  choices: Array<{
    index: number
    message: { role: 'assistant'; content: string | null; tool_calls?: ToolCall[]; refusal?: string | null }
    finish_reason: FinishReason
  }>
  usage?: Usage
}

/** One streamed chunk, as OpenAI sends it after `data: `. */
export interface ChatChunk {
  id: string
  object: 'chat.completion.chunk'
  created: number
  model: string
  choices: Array<{
    index: number
    delta: {
      role?: 'assistant'
      content?: string | null
      tool_calls?: Array<{ index: number; id?: string; type?: 'function'; function?: { name?: string; arguments?: string } }>
    }
    finish_reason: FinishReason
  }>
  usage?: Usage | null
}

/** What the gateway knows about the instance a call goes to. */
export interface UpstreamTarget {
  /** The instance's endpoint: the full URL of the provider operation. */
  endpoint: string
  /** The model name the provider expects. */
  model: string
  /** For embedding instances: the vector length to ask for. */
  dimensions?: number | null
}

/** An HTTP request to a provider, before the key is placed on it (the gateway does that). */
export interface UpstreamRequest {
  url: string
  headers: Record<string, string>
  body: unknown
}

/** One server-sent event as read from the provider. */
export interface SseEvent {
  event?: string
  data: string
}

/**
 * Turns a provider's stream into OpenAI chunks. `push` receives each event in order and
 * returns the chunks it produces (often none); `end` is called once the stream is over and
 * returns what is still owed (a final chunk with the finish reason or usage). `usage` is the
 * usage seen so far, complete after `end`.
 */
export interface StreamTranslator {
  push(event: SseEvent): ChatChunk[]
  end(): ChatChunk[]
  readonly usage: Usage | null
  /** True once the provider sent its own end marker; a stream that stops without it was cut. */
  readonly finished: boolean
}

export interface EmbeddingsResult {
  vectors: number[][]
  usage: { prompt_tokens: number; total_tokens: number }
}

/** A provider's error body, read into OpenAI's error vocabulary. */
export interface ProviderError {
  message: string
  type: string
  code?: string | null
}

export interface ProviderAdapter {
  readonly name: 'openai' | 'anthropic' | 'cohere' | 'gemini'
  chatRequest(request: ChatRequest, target: UpstreamTarget, stream: boolean): UpstreamRequest
  chatResponse(body: unknown, request: ChatRequest): ChatCompletion
  chatStream(request: ChatRequest): StreamTranslator
  /** The most texts one embeddings call may carry. */
  readonly embeddingsBatchLimit: number
  embeddingsRequest(input: string[], target: UpstreamTarget): UpstreamRequest
  embeddingsResponse(body: unknown, count: number): EmbeddingsResult
  error(status: number, body: unknown): ProviderError
}
