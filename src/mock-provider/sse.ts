import type { ServerResponse } from 'node:http'

/** One event as it goes on the wire; `content` marks the events that pacing and drops count. */
export interface SseFrame {
  wire: string
  content: boolean
}

export interface Pacing {
  intervalMs: number
  /** destroy the connection once this many content events are out, before any end marker */
  dropAfterChunks?: number
}

export function namedEvent(name: string, payload: unknown, content = false): SseFrame {
  return { wire: `event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`, content }
}

export function dataEvent(payload: unknown, content = false, lineEnd = '\n'): SseFrame {
  return { wire: `data: ${JSON.stringify(payload)}${lineEnd}${lineEnd}`, content }
}

/**
 * Resolves true after `ms`, or false as soon as the client goes away, so no timer outlives its
 * connection.
 */
export function pause(res: ServerResponse, ms: number): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false)
  return new Promise((resolve) => {
    const onClose = () => {
      clearTimeout(timer)
      resolve(false)
    }
    const timer = setTimeout(() => {
      res.off('close', onClose)
      resolve(true)
    }, ms)
    res.once('close', onClose)
  })
}

function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const onDrain = () => {
      res.off('close', onClose)
      resolve(true)
    }
    const onClose = () => {
      res.off('drain', onDrain)
      resolve(false)
    }
    res.once('drain', onDrain)
    res.once('close', onClose)
  })
}

async function write(res: ServerResponse, text: string): Promise<boolean> {
  if (res.destroyed) return false
  if (text === '' || res.write(text)) return true
  return drained(res)
}

function dropConnection(res: ServerResponse, pending: string): void {
  const socket = res.socket
  if (!socket || res.destroyed) return
  if (pending === '') res.flushHeaders()
  else res.write(pending)
  // Ending first lets what was written reach the client; only then is the socket torn down.
  socket.end(() => socket.destroy())
}

/**
 * Writes the events, pausing between content events. Events between two pauses go out in one
 * write, so an unpaced stream costs one write however many events it has.
 */
export async function sendPaced(res: ServerResponse, frames: readonly SseFrame[], pacing: Pacing): Promise<void> {
  let pending = ''
  let contentSent = 0
  for (const frame of frames) {
    if (!frame.content) {
      pending += frame.wire
      continue
    }
    if (contentSent === pacing.dropAfterChunks) return dropConnection(res, pending)
    if (contentSent > 0 && pacing.intervalMs > 0) {
      if (!(await write(res, pending))) return
      pending = ''
      if (!(await pause(res, pacing.intervalMs))) return
    }
    pending += frame.wire
    contentSent++
    if (contentSent === pacing.dropAfterChunks) return dropConnection(res, pending)
  }
  if (!res.destroyed) res.end(pending)
}
