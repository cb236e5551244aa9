// The Gemini API (generativelanguage.googleapis.com v1beta). The API accepts camelCase and
// snake_case field names alike, so both are read.
import { type JsonObject, isObject, objectAt, objectsIn, textsIn } from './json.js'
import type { ProviderHandler, Reply, RequestContext } from './routes.js'
import { dataEvent } from './sse.js'
import { type Answer, type Conversation, hashVector, planAnswer, requestedDimensions, splitEvenly } from './text.js'

const statusNames = new Map<number, string>([
  [400, 'INVALID_ARGUMENT'],
  [401, 'UNAUTHENTICATED'],
  [403, 'PERMISSION_DENIED'],
  [404, 'NOT_FOUND'],
  [429, 'RESOURCE_EXHAUSTED'],
  [500, 'INTERNAL'],
  [503, 'UNAVAILABLE'],
  [504, 'DEADLINE_EXCEEDED'],
])

function errorBody(status: number, message: string): unknown {
  const name = statusNames.get(status) ?? (status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION')
  return { error: { code: status, message, status: name } }
}

const badRequest = (message: string): Reply => ({ kind: 'json', status: 400, body: errorBody(400, message) })
const ok = (body: unknown): Reply => ({ kind: 'json', status: 200, body })

function readConversation(body: JsonObject): Conversation {
  const contents = objectsIn(body.contents)
  const system = objectAt(body.systemInstruction ?? body.system_instruction)
  const lastUser = contents.findLast((content) => (content.role ?? 'user') === 'user' && textsIn(content.parts).length > 0)
  const config = objectAt(body.generationConfig ?? body.generation_config)
  return {
    texts: [...textsIn(system.parts), ...contents.flatMap((content) => textsIn(content.parts))],
    lastUserText: textsIn(lastUser?.parts).join(' '),
    endsWithToolResults: objectsIn(contents.at(-1)?.parts).some((part) => isObject(part.functionResponse ?? part.function_response)),
    toolNames: objectsIn(body.tools)
      .flatMap((tool) => objectsIn(tool.functionDeclarations ?? tool.function_declarations))
      .flatMap((declaration) => (typeof declaration.name === 'string' ? [declaration.name] : [])),
    wantsJson: (config.responseMimeType ?? config.response_mime_type) === 'application/json',
  }
}

function usageOf(answer: Answer, final: boolean) {
  // Gemini reports the prompt from the first chunk on, and the candidates' count once it is known.
  if (!final) return { promptTokenCount: answer.promptTokens, totalTokenCount: answer.promptTokens }
  return {
    promptTokenCount: answer.promptTokens,
    candidatesTokenCount: answer.completionTokens,
    totalTokenCount: answer.promptTokens + answer.completionTokens,
  }
}

function chat({ body, route, query, settings, serial }: RequestContext): Reply {
  if (objectsIn(body.contents).length === 0) return badRequest('* GenerateContentRequest.contents: contents is not specified')
  const answer = planAnswer('gemini', readConversation(body), settings)
  const response = (parts: JsonObject[], final: boolean) => ({
    candidates: [{ content: { role: 'model', parts }, ...(final ? { finishReason: 'STOP' } : {}), index: 0 }],
    usageMetadata: usageOf(answer, final),
    modelVersion: route.model,
    responseId: `mock-${serial}`,
  })
  // Gemini has no call ids and no argument fragments: each call arrives whole, `args` an object.
  const callParts = answer.toolCalls.map((call) => ({ functionCall: { name: call.name, args: JSON.parse(call.arguments) } }))
  if (route.method === 'generateContent') return ok(response(callParts.length > 0 ? callParts : [{ text: answer.text }], true))

  const partsPerChunk = callParts.length > 0
    ? callParts.map((part) => [part])
    : splitEvenly(answer.text, settings.streamChunks).map((text) => [{ text }])
  // The chunk with finishReason is the last; the stream simply ends after it.
  const chunks = partsPerChunk.map((parts, index) => response(parts, index === partsPerChunk.length - 1))
  // Without alt=sse Gemini sends the same chunks as one JSON array.
  if (query.get('alt') !== 'sse') return ok(chunks)
  return { kind: 'stream', frames: chunks.map((chunk) => dataEvent(chunk, true, '\r\n')) }
}

function vectorFor(request: JsonObject): { values: number[] } {
  const text = textsIn(objectAt(request.content).parts).join(' ')
  return { values: hashVector(text, requestedDimensions(request.outputDimensionality ?? request.output_dimensionality)) }
}

function embeddings({ body, route }: RequestContext): Reply {
  if (route.method === 'embedContent') {
    if (!isObject(body.content)) return badRequest('* EmbedContentRequest.content: content is not specified')
    return ok({ embedding: vectorFor(body) })
  }
  const requests = objectsIn(body.requests)
  if (requests.length === 0) return badRequest('* BatchEmbedContentsRequest.requests: requests is not specified')
  return ok({ embeddings: requests.map(vectorFor) })
}

export const gemini: ProviderHandler = { chat, embeddings, errorBody }
