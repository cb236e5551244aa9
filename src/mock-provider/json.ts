// Request bodies arrive as untrusted JSON; these readers let the wire modules pick fields
// without casts and without throwing on shapes a translation got wrong.

export type JsonObject = Record<string, unknown>

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function objectsIn(value: unknown): JsonObject[] {
  return Array.isArray(value) ? value.filter(isObject) : []
}

export function objectAt(value: unknown): JsonObject {
  return isObject(value) ? value : {}
}

export function stringAt(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback
}

/** The texts a message states itself: a plain string, or the `text` of its parts. */
export function textsIn(content: unknown): string[] {
  if (typeof content === 'string') return [content]
  if (!Array.isArray(content)) return []
  const texts: string[] = []
  for (const part of content) if (isObject(part) && typeof part.text === 'string') texts.push(part.text)
  return texts
}

/** Every text in a message, including the ones nested in parts (Anthropic's tool results). */
export function allTextsIn(content: unknown): string[] {
  if (!Array.isArray(content)) return textsIn(content)
  const texts: string[] = []
  for (const part of content) {
    if (!isObject(part)) continue
    if (typeof part.text === 'string') texts.push(part.text)
    if (part.content !== undefined) texts.push(...allTextsIn(part.content))
  }
  return texts
}
