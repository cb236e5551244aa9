import type { SseEvent } from './providers/types.js'

export type { SseEvent }

/*
 * Our own parser rather than a dependency: none is installed, the format is small, this runs
 * on every streamed token, and the gateway needs both directions (reading providers, writing
 * to clients) with no stream or DOM types in the way.
 */

const LF = 10
const CR = 13

/**
 * Reads a server-sent-events stream chunk by chunk, following the WHATWG rules that matter to
 * LLM providers: lines end in `\n`, `\r\n` or `\r` (even when split across chunks), `:` lines
 * are comments, several `data:` lines join with `\n`, and a blank line dispatches the event.
 * `id:` and `retry:` are read and dropped: no provider needs them for a one-shot stream.
 */
export class SseParser {
  private pending = ''
  private dataLines: string[] = []
  private eventName: string | undefined
  private atStart = true
  /** The previous chunk ended in `\r`: a `\n` opening the next one belongs to that line end. */
  private lastEndedInCr = false

  push(chunk: string): SseEvent[] {
    const events: SseEvent[] = []
    if (chunk.length === 0) return events
    let text = chunk
    if (this.atStart) {
      this.atStart = false
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
    }
    if (this.lastEndedInCr && text.charCodeAt(0) === LF) text = text.slice(1)
    this.lastEndedInCr = false
    // The pending text holds no line end, so scanning starts where the new chunk does.
    const scanFrom = this.pending.length
    text = this.pending + text
    let lineStart = 0
    for (let i = scanFrom; i < text.length; i++) {
      const code = text.charCodeAt(i)
      if (code !== LF && code !== CR) continue
      this.readLine(text.slice(lineStart, i), events)
      if (code === CR) {
        if (i + 1 === text.length) this.lastEndedInCr = true
        else if (text.charCodeAt(i + 1) === LF) i++
      }
      lineStart = i + 1
    }
    this.pending = text.slice(lineStart)
    return events
  }

  /**
   * Ends the stream. An event still open is dispatched rather than dropped (the standard drops
   * it), because some servers close the connection without the final blank line.
   */
  end(): SseEvent[] {
    const events: SseEvent[] = []
    if (this.pending.length > 0) this.readLine(this.pending, events)
    this.pending = ''
    this.dispatch(events)
    this.atStart = true
    this.lastEndedInCr = false
    return events
  }

  private readLine(line: string, events: SseEvent[]): void {
    if (line.length === 0) {
      this.dispatch(events)
      return
    }
    if (line.charCodeAt(0) === 58 /* : */) return
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.charCodeAt(0) === 32 /* space */) value = value.slice(1)
    if (field === 'data') this.dataLines.push(value)
    else if (field === 'event') this.eventName = value
  }

  private dispatch(events: SseEvent[]): void {
    if (this.dataLines.length > 0) {
      const event: SseEvent = { data: this.dataLines.join('\n') }
      if (this.eventName) event.event = this.eventName
      events.push(event)
    }
    this.dataLines = []
    this.eventName = undefined
  }
}

/** One event in wire form; data spanning several lines becomes several `data:` lines. */
export function formatSse(data: string, event?: string): string {
  let out = event ? `event: ${event}\n` : ''
  for (const line of data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`
  return out + '\n'
}
