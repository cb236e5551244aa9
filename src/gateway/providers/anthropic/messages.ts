import { argumentsObject, contentParts, isObject, parseDataUrl } from '../shared.js'
import type { ChatMessage, ContentPart } from '../types.js'

export type AnthropicBlock = Record<string, unknown>

export interface AnthropicMessage {
  role: 'user' | 'assistant'
  content: AnthropicBlock[]
}

/**
 * `cache_control` is not part of OpenAI's content parts, but clients that target Anthropic
 * through an OpenAI-shaped API put it there to mark prompt-cache breakpoints; keeping it is
 * what makes those clients' cached prompts work through the gateway.
 */
function withCacheControl(block: AnthropicBlock, part: ContentPart): AnthropicBlock {
  const cacheControl = (part as { cache_control?: unknown }).cache_control
  return isObject(cacheControl) ? { ...block, cache_control: cacheControl } : block
}

export function imageBlock(url: string): AnthropicBlock {
  const data = parseDataUrl(url)
  return data
    ? { type: 'image', source: { type: 'base64', media_type: data.mediaType, data: data.base64 } }
    : { type: 'image', source: { type: 'url', url } }
}

/** A PDF travels as a base64 document; a plain-text file as a text document. */
function documentBlock(fileData: string): AnthropicBlock | null {
  const data = parseDataUrl(fileData)
  if (!data) return null
  if (data.mediaType === 'text/plain') {
    return { type: 'document', source: { type: 'text', media_type: 'text/plain', data: Buffer.from(data.base64, 'base64').toString('utf8') } }
  }
  return { type: 'document', source: { type: 'base64', media_type: data.mediaType, data: data.base64 } }
}

/**
 * Parts Anthropic cannot take (audio, files by id) are left out rather than failing the call;
 * Anthropic also refuses empty text blocks, so those go too.
 */
export function contentBlocks(content: ChatMessage['content']): AnthropicBlock[] {
  const blocks: AnthropicBlock[] = []
  for (const part of contentParts(content)) {
    if (part.type === 'text') {
      if (part.text.length > 0) blocks.push(withCacheControl({ type: 'text', text: part.text }, part))
    } else if (part.type === 'image_url') {
      blocks.push(withCacheControl(imageBlock(part.image_url.url), part))
    } else if (part.type === 'file' && part.file.file_data) {
      const document = documentBlock(part.file.file_data)
      if (document) blocks.push(withCacheControl(document, part))
    }
  }
  return blocks
}

function toolUseBlocks(message: ChatMessage): AnthropicBlock[] {
  return (message.tool_calls ?? []).map((call) => ({
    type: 'tool_use',
    id: call.id,
    name: call.function.name,
    input: argumentsObject(call.function.arguments),
  }))
}

function toolResultBlock(message: ChatMessage): AnthropicBlock {
  const content = typeof message.content === 'string' ? message.content : contentBlocks(message.content)
  return { type: 'tool_result', tool_use_id: message.tool_call_id ?? '', content }
}

/**
 * System and developer messages become Anthropic's `system`: one string, unless a part asks
 * for caching, which only the block form can say.
 */
export function systemOf(messages: ChatMessage[]): string | AnthropicBlock[] | undefined {
  const blocks = messages.filter((m) => m.role === 'system' || m.role === 'developer').flatMap((m) => contentBlocks(m.content))
  if (blocks.length === 0) return undefined
  if (blocks.some((block) => block.cache_control !== undefined)) return blocks
  return blocks.map((block) => block.text).join('\n\n')
}

/**
 * Anthropic alternates user and assistant turns: tool results are user content, and messages
 * of the same role in a row (parallel tool results, then the user's next words) merge into one.
 */
export function anthropicMessages(messages: ChatMessage[]): AnthropicMessage[] {
  const turns: AnthropicMessage[] = []
  const add = (role: AnthropicMessage['role'], blocks: AnthropicBlock[]) => {
    if (blocks.length === 0) return
    const last = turns.at(-1)
    if (last?.role === role) last.content.push(...blocks)
    else turns.push({ role, content: blocks })
  }
  for (const message of messages) {
    if (message.role === 'user') add('user', contentBlocks(message.content))
    else if (message.role === 'assistant') add('assistant', [...contentBlocks(message.content), ...toolUseBlocks(message)])
    else if (message.role === 'tool') add('user', [toolResultBlock(message)])
  }
  return turns
}
