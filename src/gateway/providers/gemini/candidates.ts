import { asArray, asCount, asObject, asString, isObject, usageOf } from '../shared.js'
import type { FinishReason, ToolCall, Usage } from '../types.js'

export interface CandidateContent {
  index: number
  text: string
  calls: Array<{ id: string | undefined; name: string; arguments: string }>
  finishReason: string | undefined
}

/** Parts marked `thought` are reasoning summaries, not answer text. */
export function readCandidate(value: unknown, position: number): CandidateContent {
  const candidate = asObject(value)
  const parts = asArray(asObject(candidate.content).parts).map(asObject)
  let text = ''
  const calls: CandidateContent['calls'] = []
  for (const part of parts) {
    if (typeof part.text === 'string' && part.thought !== true) text += part.text
    if (isObject(part.functionCall)) {
      const call = part.functionCall
      calls.push({ id: asString(call.id), name: asString(call.name) ?? '', arguments: JSON.stringify(call.args ?? {}) })
    }
  }
  return {
    index: typeof candidate.index === 'number' ? candidate.index : position,
    text,
    calls,
    finishReason: asString(candidate.finishReason),
  }
}

/** Gemini gives calls no ids (or only sometimes); `call_<n>` is stable and unique within an answer. */
export function toolCallOf(call: CandidateContent['calls'][number], index: number): ToolCall {
  return { id: call.id ?? `call_${index}`, type: 'function', function: { name: call.name, arguments: call.arguments } }
}

const FINISH_REASONS: Record<string, FinishReason> = {
  STOP: 'stop',
  MAX_TOKENS: 'length',
  SAFETY: 'content_filter',
  RECITATION: 'content_filter',
  LANGUAGE: 'content_filter',
  BLOCKLIST: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  SPII: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
  IMAGE_PROHIBITED_CONTENT: 'content_filter',
  IMAGE_RECITATION: 'content_filter',
}

/** Gemini says STOP after function calls too; OpenAI clients look for `tool_calls`. */
export function geminiFinishReason(reason: string | undefined, calledTools: boolean): FinishReason {
  if (reason === undefined) return null
  const mapped = FINISH_REASONS[reason] ?? 'stop'
  return mapped === 'stop' && calledTools ? 'tool_calls' : mapped
}

/**
 * `candidatesTokenCount` leaves out thinking tokens, which OpenAI counts as completion tokens
 * (and reports again as reasoning); tool-use prompt tokens are input like the prompt.
 * `cachedContentTokenCount` is part of the prompt count already.
 */
export function geminiUsage(value: unknown): Usage | undefined {
  if (!isObject(value)) return undefined
  const thoughts = asCount(value.thoughtsTokenCount)
  return usageOf({
    prompt: asCount(value.promptTokenCount) + asCount(value.toolUsePromptTokenCount),
    completion: asCount(value.candidatesTokenCount) + thoughts,
    total: asCount(value.totalTokenCount),
    cached: asCount(value.cachedContentTokenCount),
    reasoning: thoughts,
  })
}

/** A prompt Gemini refused has no candidates, only a block reason. */
export const promptBlocked = (body: Record<string, unknown>): boolean => asString(asObject(body.promptFeedback).blockReason) !== undefined
