import type { ChatRequest } from './providers/types.js'

/**
 * An estimate of a chat request's input tokens, for `POST /v1/messages/count_tokens`. llmbase
 * has no tokenizer for every provider's models (Anthropic publishes none), so this counts
 * about four characters of text per token, OpenAI's rule of thumb for English, plus a few
 * tokens per message for the role and separators. Text, tool definitions and tool calls are
 * counted; images, audio and files are not. The answer says it is an estimate
 * (`x-llmbase-token-count: estimate`), and docs/gateway.md says how it is made.
 */
const CHARACTERS_PER_TOKEN = 4
const TOKENS_PER_MESSAGE = 4

export function estimateInputTokens(request: ChatRequest): number {
  let characters = 0
  let messages = 0
  for (const message of request.messages) {
    messages += 1
    if (typeof message.content === 'string') characters += message.content.length
    else if (Array.isArray(message.content)) {
      for (const part of message.content) if (part.type === 'text') characters += part.text.length
    }
    for (const call of message.tool_calls ?? []) characters += call.function.name.length + call.function.arguments.length
  }
  for (const tool of request.tools ?? []) characters += JSON.stringify(tool.function).length
  return Math.ceil(characters / CHARACTERS_PER_TOKEN) + messages * TOKENS_PER_MESSAGE
}
