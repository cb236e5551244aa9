/**
 * Anthropic's `/v1/messages` for clients that speak it: the request is read into the gateway's
 * chat shape, sent to whichever provider serves the model, and the answer written back as an
 * Anthropic message or event stream.
 *
 * Anthropic-only parameters (`top_k`, `thinking`, `cache_control`, server tools) are dropped:
 * the chat shape may go to any provider, and OpenAI refuses fields it does not know. Thinking
 * blocks in earlier turns are dropped with them, as the chat shape has no place for them.
 */
import {
  argumentsObject,
  asArray,
  asObject,
  asString,
  generatedId,
  isObject,
  type JsonObject,
} from '../shared.js'
import type {
  ChatChunk,
  ChatCompletion,
  ChatMessage,
  ChatRequest,
  ContentPart,
  FinishReason,
  SseEvent,
  ToolChoice,
  ToolDefinition,
  Usage,
} from '../types.js'
import { toolCallsOf } from './response.js'

function imagePart(source: JsonObject): ContentPart | null {
  if (source.type === 'base64') {
    return { type: 'image_url', image_url: { url: `data:${asString(source.media_type) ?? 'image/png'};base64,${asString(source.data) ?? ''}` } }
  }
  if (source.type === 'url' && typeof source.url === 'string') return { type: 'image_url', image_url: { url: source.url } }
  return null
}

function documentPart(block: JsonObject): ContentPart | null {
  const source = asObject(block.source)
  if (source.type === 'text') return { type: 'text', text: asString(source.data) ?? '' }
  if (source.type !== 'base64') return null
  const title = asString(block.title)
  return {
    type: 'file',
    file: { file_data: `data:${asString(source.media_type) ?? 'application/pdf'};base64,${asString(source.data) ?? ''}`, ...(title ? { filename: title } : {}) },
  }
}

function contentPart(block: JsonObject): ContentPart | null {
  if (block.type === 'text') return { type: 'text', text: asString(block.text) ?? '' }
  if (block.type === 'image') return imagePart(asObject(block.source))
  if (block.type === 'document') return documentPart(block)
  return null
}

/** Tool messages take text only, so the text of a tool result's blocks is what goes. */
function toolResultText(content: unknown): string {
  if (typeof content === 'string') return content
  return asArray(content)
    .map(asObject)
    .flatMap((block) => (block.type === 'text' ? [asString(block.text) ?? ''] : []))
    .join('\n')
}

/**
 * Anthropic puts tool results inside the user turn; the chat shape has one tool message per
 * result, and they must come straight after the assistant's calls, before the user's words.
 */
function userMessages(content: unknown): ChatMessage[] {
  if (typeof content === 'string') return [{ role: 'user', content }]
  const messages: ChatMessage[] = []
  const parts: ContentPart[] = []
  for (const block of asArray(content).map(asObject)) {
    if (block.type === 'tool_result') {
      messages.push({ role: 'tool', tool_call_id: asString(block.tool_use_id) ?? '', content: toolResultText(block.content) })
    } else {
      const part = contentPart(block)
      if (part) parts.push(part)
    }
  }
  if (parts.length > 0) messages.push({ role: 'user', content: parts })
  return messages
}

function assistantMessage(content: unknown): ChatMessage {
  if (typeof content === 'string') return { role: 'assistant', content }
  const blocks = asArray(content).map(asObject)
  const text = blocks.flatMap((block) => (block.type === 'text' ? [asString(block.text) ?? ''] : [])).join('')
  const toolCalls = toolCallsOf(blocks)
  const message: ChatMessage = { role: 'assistant', content: text.length > 0 || toolCalls.length === 0 ? text : null }
  if (toolCalls.length > 0) message.tool_calls = toolCalls
  return message
}

function systemText(system: unknown): string | undefined {
  if (typeof system === 'string') return system.length > 0 ? system : undefined
  const texts = asArray(system).map(asObject).flatMap((block) => (block.type === 'text' ? [asString(block.text) ?? ''] : []))
  return texts.length > 0 ? texts.join('\n\n') : undefined
}

/** Server tools (web search, code execution) run at Anthropic and have no chat counterpart. */
function chatTools(tools: unknown): ToolDefinition[] {
  return asArray(tools)
    .map(asObject)
    .filter((tool) => (tool.type === undefined || tool.type === 'custom') && typeof tool.name === 'string')
    .map((tool) => {
      const description = asString(tool.description)
      return {
        type: 'function' as const,
        function: {
          name: tool.name as string,
          ...(description !== undefined ? { description } : {}),
          parameters: asObject(tool.input_schema),
          ...(tool.strict === true ? { strict: true } : {}),
        },
      }
    })
}

function chatToolChoice(choice: JsonObject): ToolChoice | undefined {
  switch (choice.type) {
    case 'auto':
      return 'auto'
    case 'any':
      return 'required'
    case 'none':
      return 'none'
    case 'tool':
      return { type: 'function', function: { name: asString(choice.name) ?? '' } }
    default:
      return undefined
  }
}

/** The generally available `output_config.format`, or the older beta `output_format`. */
function responseFormat(body: JsonObject): ChatRequest['response_format'] {
  const format = asObject(asObject(body.output_config).format ?? body.output_format)
  if (format.type !== 'json_schema' || !isObject(format.schema)) return undefined
  return { type: 'json_schema', json_schema: { name: 'response', schema: format.schema, strict: true } }
}

/**
 * `max_tokens` is sent as `max_tokens`, not `max_completion_tokens`: more OpenAI-compatible
 * servers know it, and the Anthropic adapter reads either.
 */
export function messagesToChat(input: unknown): ChatRequest {
  const body = asObject(input)
  const messages: ChatMessage[] = []
  const system = systemText(body.system)
  if (system !== undefined) messages.push({ role: 'system', content: system })
  for (const message of asArray(body.messages).map(asObject)) {
    if (message.role === 'user') messages.push(...userMessages(message.content))
    else if (message.role === 'assistant') messages.push(assistantMessage(message.content))
  }
  const request: ChatRequest = { model: asString(body.model) ?? '', messages }
  if (typeof body.max_tokens === 'number') request.max_tokens = body.max_tokens
  if (body.stream === true) request.stream = true
  if (typeof body.temperature === 'number') request.temperature = body.temperature
  if (typeof body.top_p === 'number') request.top_p = body.top_p
  const stop = asArray(body.stop_sequences).filter((s): s is string => typeof s === 'string')
  if (stop.length > 0) request.stop = stop
  const user = asString(asObject(body.metadata).user_id)
  if (user !== undefined) request.user = user
  const tools = chatTools(body.tools)
  if (tools.length > 0) request.tools = tools
  // OpenAI refuses a tool choice without tools, which is what is left when all were server tools.
  if (tools.length > 0 && isObject(body.tool_choice)) {
    const choice = chatToolChoice(body.tool_choice)
    if (choice !== undefined) request.tool_choice = choice
    if (body.tool_choice.disable_parallel_tool_use === true) request.parallel_tool_calls = false
  }
  const format = responseFormat(body)
  if (format) request.response_format = format
  return request
}

type StopReason = 'end_turn' | 'max_tokens' | 'tool_use' | 'refusal'

function stopReasonOf(finishReason: FinishReason | undefined): StopReason {
  if (finishReason === 'length') return 'max_tokens'
  if (finishReason === 'tool_calls') return 'tool_use'
  if (finishReason === 'content_filter') return 'refusal'
  return 'end_turn'
}

/** Anthropic counts cached and cache-written tokens apart from `input_tokens`. */
function anthropicUsageOf(usage: Usage | null | undefined) {
  const cacheRead = usage?.cached_tokens ?? 0
  const cacheWrite = usage?.cache_write_tokens ?? 0
  return {
    input_tokens: Math.max(0, (usage?.prompt_tokens ?? 0) - cacheRead - cacheWrite),
    output_tokens: usage?.completion_tokens ?? 0,
    cache_read_input_tokens: cacheRead,
    cache_creation_input_tokens: cacheWrite,
  }
}

/** `model` is the name the client asked for, as Anthropic echoes it. */
export function chatToMessage(completion: ChatCompletion, model: string) {
  const choice = completion.choices[0]
  const content: JsonObject[] = []
  const text = choice?.message.content
  if (text) content.push({ type: 'text', text })
  for (const call of choice?.message.tool_calls ?? []) {
    content.push({ type: 'tool_use', id: call.id, name: call.function.name, input: argumentsObject(call.function.arguments) })
  }
  return {
    id: completion.id,
    type: 'message' as const,
    role: 'assistant' as const,
    model,
    content,
    stop_reason: stopReasonOf(choice?.finish_reason),
    // The chat shape does not say which stop sequence matched.
    stop_sequence: null,
    usage: anthropicUsageOf(completion.usage),
  }
}

const sse = (type: string, payload: JsonObject): SseEvent => ({ event: type, data: JSON.stringify({ type, ...payload }) })

/**
 * Anthropic streams one content block at a time, each opened, filled and closed. Chat chunks
 * interleave nothing in practice (text, then one tool call after another), so a block closes
 * when a chunk starts something else. Only the first choice is translated: Anthropic has no `n`.
 * Usage comes last in the chat stream, so `message_start` reports zero and `message_delta`
 * (which Anthropic's clients read as the final count) the real numbers.
 */
export class ChunksToAnthropicEvents {
  private readonly model: string
  private started = false
  private nextBlock = 0
  private open: { index: number; kind: 'text' | 'tool' } | null = null
  private readonly blockByToolIndex = new Map<number, number>()
  private stopReason: StopReason | null = null

  constructor(model: string) {
    this.model = model
  }

  push(chunk: ChatChunk): SseEvent[] {
    const events: SseEvent[] = []
    this.start(events, chunk.id)
    const choice = chunk.choices.find((c) => c.index === 0)
    if (!choice) return events
    const { content, tool_calls: toolCalls } = choice.delta
    if (content) {
      const index = this.open?.kind === 'text' ? this.open.index : this.openBlock(events, 'text', { type: 'text', text: '' })
      events.push(sse('content_block_delta', { index, delta: { type: 'text_delta', text: content } }))
    }
    for (const call of toolCalls ?? []) {
      let index = this.blockByToolIndex.get(call.index)
      if (index === undefined) {
        const id = call.id ?? generatedId('toolu')
        index = this.openBlock(events, 'tool', { type: 'tool_use', id, name: call.function?.name ?? '', input: {} })
        this.blockByToolIndex.set(call.index, index)
      }
      const partial = call.function?.arguments
      if (partial) events.push(sse('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: partial } }))
    }
    if (choice.finish_reason) this.stopReason = stopReasonOf(choice.finish_reason)
    return events
  }

  end(usage: Usage | null): SseEvent[] {
    const events: SseEvent[] = []
    this.start(events, undefined)
    this.closeBlock(events)
    events.push(
      sse('message_delta', { delta: { stop_reason: this.stopReason ?? 'end_turn', stop_sequence: null }, usage: anthropicUsageOf(usage) }),
      sse('message_stop', {}),
    )
    return events
  }

  private start(events: SseEvent[], chunkId: string | undefined): void {
    if (this.started) return
    this.started = true
    events.push(
      sse('message_start', {
        message: {
          id: chunkId ?? generatedId('msg'),
          type: 'message',
          role: 'assistant',
          model: this.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: anthropicUsageOf(null),
        },
      }),
    )
  }

  private openBlock(events: SseEvent[], kind: 'text' | 'tool', contentBlock: JsonObject): number {
    this.closeBlock(events)
    const index = this.nextBlock++
    this.open = { index, kind }
    events.push(sse('content_block_start', { index, content_block: contentBlock }))
    return index
  }

  private closeBlock(events: SseEvent[]): void {
    if (!this.open) return
    events.push(sse('content_block_stop', { index: this.open.index }))
    this.open = null
  }
}
