import { JSON_HEADERS, contentParts, contentText, isObject, stopList } from '../shared.js'
import type { ChatMessage, ChatRequest, ToolDefinition, UpstreamRequest, UpstreamTarget } from '../types.js'

type CohereMessage = Record<string, unknown>

/** Cohere's v2 parts: text and images (vision models); audio and files have no place. */
function cohereContent(content: ChatMessage['content']): string | Record<string, unknown>[] {
  if (typeof content === 'string') return content
  return contentParts(content).flatMap<Record<string, unknown>>((part) => {
    if (part.type === 'text') return [{ type: 'text', text: part.text }]
    if (part.type === 'image_url') return [{ type: 'image_url', image_url: part.image_url }]
    return []
  })
}

/** v2 messages are OpenAI's in all but detail: developer is system, tool call content is optional. */
function cohereMessage(message: ChatMessage): CohereMessage | null {
  switch (message.role) {
    case 'system':
    case 'developer':
      return { role: 'system', content: cohereContent(message.content) }
    case 'user':
      return { role: 'user', content: cohereContent(message.content) }
    case 'assistant': {
      const out: CohereMessage = { role: 'assistant' }
      const text = contentText(message.content)
      if (text.length > 0) out.content = text
      if (message.tool_calls?.length) {
        out.tool_calls = message.tool_calls.map((call) => ({
          id: call.id,
          type: 'function',
          function: { name: call.function.name, arguments: call.function.arguments },
        }))
      }
      return out
    }
    case 'tool':
      return { role: 'tool', tool_call_id: message.tool_call_id ?? '', content: contentText(message.content) }
    default:
      return null
  }
}

function cohereTool(tool: ToolDefinition): Record<string, unknown> {
  const { name, description, parameters } = tool.function
  return {
    type: 'function',
    function: { name, ...(description !== undefined ? { description } : {}), parameters: parameters ?? { type: 'object', properties: {} } },
  }
}

/**
 * Cohere knows only REQUIRED and NONE (leaving it out is auto). A named tool is REQUIRED with
 * the other tools withheld, which forces that one.
 */
function toolFields(request: ChatRequest): Record<string, unknown> {
  const choice = request.tool_choice
  let tools = request.tools ?? []
  if (tools.length === 0) return {}
  const fields: Record<string, unknown> = {}
  if (choice === 'required') fields.tool_choice = 'REQUIRED'
  else if (choice === 'none') fields.tool_choice = 'NONE'
  else if (isObject(choice)) {
    tools = tools.filter((tool) => tool.function.name === choice.function.name)
    fields.tool_choice = 'REQUIRED'
  }
  fields.tools = tools.map(cohereTool)
  // Cohere's strictness is per request, not per tool: any strict tool asks for it.
  if (tools.some((tool) => tool.function.strict === true)) fields.strict_tools = true
  return fields
}

function responseFormat(request: ChatRequest): Record<string, unknown> | undefined {
  const format = request.response_format
  if (format?.type === 'json_object') return { type: 'json_object' }
  if (format?.type === 'json_schema') {
    return format.json_schema.schema ? { type: 'json_object', json_schema: format.json_schema.schema } : { type: 'json_object' }
  }
  return undefined
}

/** Cohere's v2 chat; unknown OpenAI fields are not sent (v2 refuses them). */
export function cohereChatRequest(request: ChatRequest, target: UpstreamTarget, stream: boolean): UpstreamRequest {
  const body: Record<string, unknown> = {
    model: target.model,
    messages: request.messages.map(cohereMessage).filter((m) => m !== null),
    ...toolFields(request),
  }
  if (stream) body.stream = true
  const format = responseFormat(request)
  if (format) body.response_format = format
  if (request.temperature !== undefined) body.temperature = request.temperature
  if (request.top_p !== undefined) body.p = request.top_p
  if (request.top_k !== undefined) body.k = request.top_k
  const maxTokens = request.max_completion_tokens ?? request.max_tokens
  if (maxTokens !== undefined) body.max_tokens = maxTokens
  const stop = stopList(request.stop)
  if (stop?.length) body.stop_sequences = stop
  if (request.seed !== undefined) body.seed = request.seed
  if (request.frequency_penalty !== undefined) body.frequency_penalty = request.frequency_penalty
  if (request.presence_penalty !== undefined) body.presence_penalty = request.presence_penalty
  return { url: target.endpoint, headers: { ...JSON_HEADERS }, body }
}
