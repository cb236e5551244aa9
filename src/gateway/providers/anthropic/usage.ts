import { asCount, isObject, usageOf } from '../shared.js'
import type { FinishReason, Usage } from '../types.js'

/**
 * Anthropic's `input_tokens` leaves out the tokens read from and written to the prompt cache;
 * OpenAI's `prompt_tokens` includes cached ones, so the three are added up.
 */
export class AnthropicTokens {
  input = 0
  output = 0
  cacheRead = 0
  cacheWrite = 0
  seen = false

  /** Later reports (a stream's `message_delta`) repeat or raise earlier counts, never add to them. */
  read(value: unknown): void {
    if (!isObject(value)) return
    this.seen = true
    if (typeof value.input_tokens === 'number') this.input = asCount(value.input_tokens)
    if (typeof value.output_tokens === 'number') this.output = asCount(value.output_tokens)
    if (typeof value.cache_read_input_tokens === 'number') this.cacheRead = asCount(value.cache_read_input_tokens)
    if (typeof value.cache_creation_input_tokens === 'number') this.cacheWrite = asCount(value.cache_creation_input_tokens)
  }

  toUsage(): Usage {
    return usageOf({
      prompt: this.input + this.cacheRead + this.cacheWrite,
      completion: this.output,
      cached: this.cacheRead,
      cacheWrite: this.cacheWrite,
    })
  }
}

export function anthropicUsage(value: unknown): Usage | undefined {
  const tokens = new AnthropicTokens()
  tokens.read(value)
  return tokens.seen ? tokens.toUsage() : undefined
}

/** `refusal` is Anthropic's safety stop; `pause_turn` ends a turn a client may simply continue. */
export function finishReasonFromStop(stopReason: unknown): FinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length'
    case 'tool_use':
      return 'tool_calls'
    case 'refusal':
      return 'content_filter'
    case undefined:
    case null:
      return null
    default:
      return 'stop'
  }
}
