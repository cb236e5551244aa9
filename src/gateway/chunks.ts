import type { ChatChunk, ChatCompletion, ToolCall, Usage } from './providers/types.js'

/** Puts a stream back together as one completion (for the cache). */
export function assembleCompletion(chunks: ChatChunk[], usage: Usage | null): ChatCompletion {
  const first = chunks[0]
  const choices = new Map<number, { content: string; toolCalls: ToolCall[]; finish: ChatCompletion['choices'][number]['finish_reason']; sawContent: boolean }>()
  for (const chunk of chunks) {
    for (const choice of chunk.choices) {
      let entry = choices.get(choice.index)
      if (!entry) {
        entry = { content: '', toolCalls: [], finish: null, sawContent: false }
        choices.set(choice.index, entry)
      }
      if (typeof choice.delta.content === 'string') {
        entry.content += choice.delta.content
        entry.sawContent = true
      }
      for (const call of choice.delta.tool_calls ?? []) {
        const existing = entry.toolCalls[call.index]
        if (existing) existing.function.arguments += call.function?.arguments ?? ''
        else entry.toolCalls[call.index] = { id: call.id ?? '', type: 'function', function: { name: call.function?.name ?? '', arguments: call.function?.arguments ?? '' } }
      }
      if (choice.finish_reason) entry.finish = choice.finish_reason
    }
  }
  return {
    id: first?.id ?? '',
    object: 'chat.completion',
    created: first?.created ?? Math.floor(Date.now() / 1000),
    model: first?.model ?? '',
    choices: [...choices.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, entry]) => ({
        index,
        message: {
          role: 'assistant' as const,
          content: entry.sawContent || entry.toolCalls.length === 0 ? entry.content : null,
          ...(entry.toolCalls.length > 0 ? { tool_calls: entry.toolCalls.filter(Boolean) } : {}),
        },
        finish_reason: entry.finish,
      })),
    ...(usage ? { usage } : {}),
  }
}

/** A cached completion as a stream: the role, the text, each tool call, then the finish. */
export function replayAsChunks(completion: ChatCompletion): ChatChunk[] {
  const chunks: ChatChunk[] = []
  const base = { id: completion.id, object: 'chat.completion.chunk' as const, created: completion.created, model: completion.model }
  for (const choice of completion.choices) {
    chunks.push({ ...base, choices: [{ index: choice.index, delta: { role: 'assistant', content: '' }, finish_reason: null }] })
    if (choice.message.content) {
      chunks.push({ ...base, choices: [{ index: choice.index, delta: { content: choice.message.content }, finish_reason: null }] })
    }
    const calls = choice.message.tool_calls ?? []
    for (let i = 0; i < calls.length; i += 1) {
      const call = calls[i] as ToolCall
      chunks.push({
        ...base,
        choices: [{ index: choice.index, delta: { tool_calls: [{ index: i, id: call.id, type: 'function', function: { name: call.function.name, arguments: call.function.arguments } }] }, finish_reason: null }],
      })
    }
    chunks.push({ ...base, choices: [{ index: choice.index, delta: {}, finish_reason: choice.finish_reason }] })
  }
  if (completion.usage) chunks.push({ ...base, choices: [], usage: completion.usage })
  return chunks
}
