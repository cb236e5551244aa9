import { JSON_HEADERS, isObject, stopList } from '../shared.js'
import type { ChatRequest, ToolDefinition, UpstreamRequest, UpstreamTarget } from '../types.js'
import { anthropicMessages, systemOf } from './messages.js'

export const ANTHROPIC_VERSION = '2023-06-01'

/** Anthropic requires `max_tokens`; clients of OpenAI's API usually leave it out. */
export const DEFAULT_MAX_TOKENS = 4096

const EMPTY_OBJECT_SCHEMA = { type: 'object', properties: {} }

function anthropicTool(tool: ToolDefinition): Record<string, unknown> {
  const { name, description, parameters, strict } = tool.function
  return {
    name,
    ...(description !== undefined ? { description } : {}),
    input_schema: parameters ?? EMPTY_OBJECT_SCHEMA,
    ...(strict === true ? { strict: true } : {}),
  }
}

/** Anthropic puts "one tool at a time" on the tool choice, so it needs one even for `auto`. */
function anthropicToolChoice(request: ChatRequest): Record<string, unknown> | undefined {
  const choice = request.tool_choice
  const serial = request.parallel_tool_calls === false ? { disable_parallel_tool_use: true } : {}
  if (choice === 'none') return { type: 'none' }
  if (choice === 'required') return { type: 'any', ...serial }
  if (isObject(choice)) return { type: 'tool', name: choice.function.name, ...serial }
  if (choice === 'auto' || request.parallel_tool_calls === false) return { type: 'auto', ...serial }
  return undefined
}

/**
 * `json_schema` maps to Anthropic's structured outputs (`output_config.format`, generally
 * available, no beta header), which constrains decoding like OpenAI's strict mode; a forced
 * tool would also work but turns the answer into a tool call the client did not ask for.
 * `json_object` has no Anthropic counterpart and is left out.
 */
function outputConfig(request: ChatRequest): Record<string, unknown> | undefined {
  const given = isObject(request.output_config) ? request.output_config : undefined
  const format = request.response_format
  if (format?.type !== 'json_schema' || !format.json_schema.schema) return given
  return { ...given, format: { type: 'json_schema', schema: format.json_schema.schema } }
}

/**
 * Only what the Messages API knows is sent: unknown OpenAI fields would be refused. `top_k`
 * and `thinking` are Anthropic's own and pass when a client sends them.
 */
export function anthropicChatRequest(request: ChatRequest, target: UpstreamTarget, stream: boolean): UpstreamRequest {
  const body: Record<string, unknown> = {
    model: target.model,
    max_tokens: request.max_completion_tokens ?? request.max_tokens ?? DEFAULT_MAX_TOKENS,
    messages: anthropicMessages(request.messages),
  }
  const system = systemOf(request.messages)
  if (system !== undefined) body.system = system
  if (stream) body.stream = true
  // Current Claude models refuse temperature and top_p together; temperature is the one kept.
  if (request.temperature !== undefined) body.temperature = request.temperature
  else if (request.top_p !== undefined) body.top_p = request.top_p
  if (request.top_k !== undefined) body.top_k = request.top_k
  if (request.thinking !== undefined) body.thinking = request.thinking
  const stop = stopList(request.stop)
  if (stop?.length) body.stop_sequences = stop
  if (request.user !== undefined) body.metadata = { user_id: request.user }
  if (request.tools?.length) {
    body.tools = request.tools.map(anthropicTool)
    const toolChoice = anthropicToolChoice(request)
    if (toolChoice) body.tool_choice = toolChoice
  }
  const output = outputConfig(request)
  if (output) body.output_config = output
  return {
    url: target.endpoint,
    headers: { ...JSON_HEADERS, 'anthropic-version': ANTHROPIC_VERSION },
    body,
  }
}
