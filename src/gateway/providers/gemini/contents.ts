import { argumentsObject, contentParts, contentText, isObject, parseDataUrl, parseJson } from '../shared.js'
import type { ChatMessage } from '../types.js'

export type GeminiPart = Record<string, unknown>

export interface GeminiContent {
  role: 'user' | 'model'
  parts: GeminiPart[]
}

const MIME_BY_EXTENSION: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  pdf: 'application/pdf',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  mp4: 'video/mp4',
}

function mimeFromUrl(url: string): string | undefined {
  const extension = /\.([a-z0-9]+)(?:[?#]|$)/i.exec(url)?.[1]?.toLowerCase()
  return extension ? MIME_BY_EXTENSION[extension] : undefined
}

/** Inline bytes for data URLs; a web URL becomes `fileData`, with a type guessed from its name. */
function mediaPart(url: string): GeminiPart {
  const data = parseDataUrl(url)
  if (data) return { inlineData: { mimeType: data.mediaType, data: data.base64 } }
  const mimeType = mimeFromUrl(url)
  return { fileData: { ...(mimeType ? { mimeType } : {}), fileUri: url } }
}

export function geminiParts(content: ChatMessage['content']): GeminiPart[] {
  const parts: GeminiPart[] = []
  for (const part of contentParts(content)) {
    if (part.type === 'text') {
      if (part.text.length > 0) parts.push({ text: part.text })
    } else if (part.type === 'image_url') {
      parts.push(mediaPart(part.image_url.url))
    } else if (part.type === 'input_audio') {
      parts.push({ inlineData: { mimeType: `audio/${part.input_audio.format}`, data: part.input_audio.data } })
    } else if (part.type === 'file' && part.file.file_data) {
      parts.push(mediaPart(part.file.file_data))
    }
  }
  return parts
}

/**
 * Gemini wants an object as a function's response. JSON objects go as they are; any other
 * result (plain text, a list) is wrapped as `output`, the key Gemini's documentation uses.
 */
function functionResponse(content: ChatMessage['content']): Record<string, unknown> {
  const text = contentText(content)
  const parsed = parseJson(text)
  if (isObject(parsed)) return parsed
  return { output: parsed === undefined ? text : parsed }
}

/**
 * Tool results carry only the call id, but Gemini matches them by function name. Ids can repeat
 * across turns (Gemini's own ids are invented per response), so the nearest earlier call wins.
 */
export function geminiContents(messages: ChatMessage[]): GeminiContent[] {
  const contents: GeminiContent[] = []
  const toolNames = new Map<string, string>()
  const add = (role: GeminiContent['role'], parts: GeminiPart[]) => {
    if (parts.length === 0) return
    const last = contents.at(-1)
    if (last?.role === role) last.parts.push(...parts)
    else contents.push({ role, parts })
  }
  for (const message of messages) {
    if (message.role === 'user') add('user', geminiParts(message.content))
    else if (message.role === 'assistant') {
      const calls = (message.tool_calls ?? []).map((call) => {
        toolNames.set(call.id, call.function.name)
        return { functionCall: { name: call.function.name, args: argumentsObject(call.function.arguments) } }
      })
      add('model', [...geminiParts(message.content), ...calls])
    } else if (message.role === 'tool') {
      const name = toolNames.get(message.tool_call_id ?? '') ?? message.name ?? message.tool_call_id ?? ''
      add('user', [{ functionResponse: { name, response: functionResponse(message.content) } }])
    }
  }
  return contents
}

export function systemInstruction(messages: ChatMessage[]): { parts: GeminiPart[] } | undefined {
  const parts = messages.filter((m) => m.role === 'system' || m.role === 'developer').flatMap((m) => geminiParts(m.content))
  return parts.length > 0 ? { parts } : undefined
}
