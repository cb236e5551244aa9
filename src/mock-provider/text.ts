// The deterministic "model": what the mock answers and how many tokens it reports, the same
// for every wire format so tests can predict both from the request alone.

export type ProviderFormat = 'openai' | 'anthropic' | 'cohere' | 'gemini'

/** What a wire module reads from a chat request, in provider-neutral terms. */
export interface Conversation {
  /** every text the request carries (system prompt included): the prompt's word count */
  texts: string[]
  /** the last user message that has text; tool results alone do not replace it */
  lastUserText: string
  /** the conversation ends with tool results, so the model answers them in text */
  endsWithToolResults: boolean
  toolNames: string[]
  wantsJson: boolean
}

export interface AnswerSettings {
  responseBytes?: number
  streamChunks: number
}

export interface PlannedToolCall {
  name: string
  /** the arguments as a JSON string, the way OpenAI and Cohere carry them */
  arguments: string
}

export interface Answer {
  /** empty when the answer is tool calls */
  text: string
  toolCalls: PlannedToolCall[]
  promptTokens: number
  completionTokens: number
}

export const DEFAULT_DIMENSIONS = 16

export function countWords(text: string): number {
  return text.match(/\S+/g)?.length ?? 0
}

export function planAnswer(format: ProviderFormat, conversation: Conversation, settings: AnswerSettings): Answer {
  const promptTokens = conversation.texts.reduce((sum, text) => sum + countWords(text), 0)
  const { lastUserText } = conversation
  // Without the tool-results check a tool round trip would loop: the user's "call tools"
  // stays the last user text after the results come back.
  if (conversation.toolNames.length > 0 && !conversation.endsWithToolResults && /\bcall tools\b/i.test(lastUserText)) {
    const toolCalls = conversation.toolNames.map((name, index) => ({
      name,
      arguments: JSON.stringify({ query: lastUserText, n: index }),
    }))
    const completionTokens = toolCalls.reduce((sum, call) => sum + countWords(call.arguments), 0)
    return { text: '', toolCalls, promptTokens, completionTokens }
  }
  const text = conversation.wantsJson
    ? JSON.stringify({ answer: lastUserText })
    : padTo(`Hello from mock ${format}: ${lastUserText}`, settings.responseBytes)
  return { text, toolCalls: [], promptTokens, completionTokens: countWords(text) }
}

function padTo(text: string, size: number | undefined): string {
  if (size === undefined || size <= 0 || text.length === 0) return text
  return `${text} `.repeat(Math.ceil(size / (text.length + 1))).slice(0, size)
}

/** Exactly `pieces` consecutive slices (some empty when the text is shorter than that). */
export function splitEvenly(text: string, pieces: number): string[] {
  const count = Math.max(1, Math.floor(pieces))
  const slices: string[] = []
  for (let i = 0; i < count; i++) {
    slices.push(text.slice(Math.floor((i * text.length) / count), Math.floor(((i + 1) * text.length) / count)))
  }
  return slices
}

/** Streamed tool arguments come in at least two fragments, so clients must join them. */
export function argumentFragments(answer: Answer, call: PlannedToolCall, settings: AnswerSettings): string[] {
  const perCall = Math.ceil(settings.streamChunks / Math.max(1, answer.toolCalls.length))
  return splitEvenly(call.arguments, Math.max(2, perCall))
}

export function requestedDimensions(value: unknown): number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= 65_536 ? value : DEFAULT_DIMENSIONS
}

/** A unit vector that depends only on the text, so equal texts embed equally. */
export function hashVector(text: string, dimensions: number): number[] {
  // FNV-1a seeds an xorshift generator: cheap enough for thousands of embeddings a second.
  let state = 0x811c9dc5
  for (let i = 0; i < text.length; i++) state = Math.imul(state ^ text.charCodeAt(i), 0x01000193)
  state = state >>> 0 || 1
  const values = new Array<number>(dimensions)
  let sumOfSquares = 0
  for (let i = 0; i < dimensions; i++) {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    const value = (state >>> 0) / 0x80000000 - 1
    values[i] = value
    sumOfSquares += value * value
  }
  const norm = Math.sqrt(sumOfSquares) || 1
  for (let i = 0; i < dimensions; i++) values[i] = (values[i] as number) / norm
  return values
}
