import { JSON_HEADERS, isObject, stopList } from '../shared.js'
import type { ChatRequest, UpstreamRequest, UpstreamTarget } from '../types.js'
import { geminiContents, systemInstruction } from './contents.js'
import { streamUrl } from './urls.js'

/**
 * Schemas go in Gemini's JSON Schema fields (`responseJsonSchema`, `parametersJsonSchema`), not
 * the OpenAPI-subset ones (`responseSchema`, `parameters`): clients send JSON Schema written for
 * OpenAI, with `additionalProperties` and friends that the OpenAPI subset refuses.
 */
function generationConfig(request: ChatRequest): Record<string, unknown> | undefined {
  const config: Record<string, unknown> = {}
  if (request.temperature !== undefined) config.temperature = request.temperature
  if (request.top_p !== undefined) config.topP = request.top_p
  if (request.top_k !== undefined) config.topK = request.top_k
  const maxTokens = request.max_completion_tokens ?? request.max_tokens
  if (maxTokens !== undefined) config.maxOutputTokens = maxTokens
  const stop = stopList(request.stop)
  if (stop?.length) config.stopSequences = stop
  if (request.n !== undefined) config.candidateCount = request.n
  if (request.seed !== undefined) config.seed = request.seed
  if (request.presence_penalty !== undefined) config.presencePenalty = request.presence_penalty
  if (request.frequency_penalty !== undefined) config.frequencyPenalty = request.frequency_penalty
  const format = request.response_format
  if (format?.type === 'json_object' || format?.type === 'json_schema') config.responseMimeType = 'application/json'
  if (format?.type === 'json_schema' && format.json_schema.schema) config.responseJsonSchema = format.json_schema.schema
  return Object.keys(config).length > 0 ? config : undefined
}

function toolFields(request: ChatRequest): Record<string, unknown> {
  if (!request.tools?.length) return {}
  const functionDeclarations = request.tools.map(({ function: { name, description, parameters } }) => ({
    name,
    ...(description !== undefined ? { description } : {}),
    ...(parameters !== undefined ? { parametersJsonSchema: parameters } : {}),
  }))
  const choice = request.tool_choice
  let functionCallingConfig: Record<string, unknown> | undefined
  if (choice === 'auto') functionCallingConfig = { mode: 'AUTO' }
  else if (choice === 'required') functionCallingConfig = { mode: 'ANY' }
  else if (choice === 'none') functionCallingConfig = { mode: 'NONE' }
  else if (isObject(choice)) functionCallingConfig = { mode: 'ANY', allowedFunctionNames: [choice.function.name] }
  return {
    tools: [{ functionDeclarations }],
    ...(functionCallingConfig ? { toolConfig: { functionCallingConfig } } : {}),
  }
}

/** The model is part of the endpoint URL, so the body names none. */
export function geminiChatRequest(request: ChatRequest, target: UpstreamTarget, stream: boolean): UpstreamRequest {
  const body: Record<string, unknown> = { contents: geminiContents(request.messages), ...toolFields(request) }
  const system = systemInstruction(request.messages)
  if (system) body.systemInstruction = system
  const config = generationConfig(request)
  if (config) body.generationConfig = config
  return { url: stream ? streamUrl(target.endpoint) : target.endpoint, headers: { ...JSON_HEADERS }, body }
}
