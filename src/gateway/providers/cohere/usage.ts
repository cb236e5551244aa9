import { asCount, asObject, isObject, usageOf } from '../shared.js'
import type { FinishReason, Usage } from '../types.js'

/** `tokens` counts what the model saw; `billed_units` (all older responses have) is the fallback. */
export function cohereUsage(value: unknown): Usage | undefined {
  const usage = asObject(value)
  const counts = isObject(usage.tokens) ? usage.tokens : isObject(usage.billed_units) ? usage.billed_units : undefined
  if (!counts) return undefined
  return usageOf({
    prompt: asCount(counts.input_tokens),
    completion: asCount(counts.output_tokens),
    cached: asCount(usage.cached_tokens),
  })
}

export function cohereFinishReason(reason: unknown): FinishReason {
  switch (reason) {
    case 'MAX_TOKENS':
      return 'length'
    case 'TOOL_CALL':
      return 'tool_calls'
    case 'ERROR_TOXIC':
      return 'content_filter'
    case undefined:
    case null:
      return null
    default:
      // COMPLETE, STOP_SEQUENCE, and ERROR or TIMEOUT, which end the answer just as well
      return 'stop'
  }
}
