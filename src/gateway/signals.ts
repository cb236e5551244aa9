import type { FastifyReply } from 'fastify'
import type { CallRecord } from './call-record.js'

/**
 * An AbortSignal for a call made without a client connection (a job, the embeddings store):
 * it fires when `outer` does (a cancelled job) or the total timeout passes; `done` clears the
 * timer when the call is over.
 */
export function deadlineSignal(totalTimeoutMs: number, outer?: AbortSignal) {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new DOMException('the total timeout passed', 'TimeoutError')), totalTimeoutMs)
  const onAbort = () => controller.abort(outer?.reason)
  if (outer?.aborted) onAbort()
  else outer?.addEventListener('abort', onAbort, { once: true })
  const done = () => {
    clearTimeout(timer)
    outer?.removeEventListener('abort', onAbort)
  }
  return { signal: controller.signal, done }
}

/**
 * An AbortSignal that fires when the client goes away or the total timeout passes, and `done`
 * to call when the call is over. The timer is our own and cleared at the end: a timer per call
 * left running for the whole total timeout (as `AbortSignal.timeout` would be) would hold
 * every finished call's signal in memory for ten minutes.
 */
export function callSignal(reply: FastifyReply, record: CallRecord, totalTimeoutMs: number) {
  const controller = new AbortController()
  const onClose = () => {
    if (reply.raw.writableFinished) return
    record.clientClosed = true
    controller.abort(new Error('client closed'))
  }
  reply.raw.once('close', onClose)
  const timer = setTimeout(() => controller.abort(new DOMException('the total timeout passed', 'TimeoutError')), totalTimeoutMs)
  const done = () => {
    clearTimeout(timer)
    reply.raw.off('close', onClose)
  }
  return { signal: controller.signal, done }
}
