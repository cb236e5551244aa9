import { Type } from 'typebox'
import type { JobHandler } from '../types.js'
import type { HandlerDeps, SubmittableType } from './index.js'

// Placeholder until the chat.batch job lands.
export const chatBatchType: SubmittableType = { type: 'chat.batch', payload: Type.Object({}), check: async () => ({ total: 0 }) }
export function chatBatchHandler(_deps: HandlerDeps): JobHandler {
  return { type: 'chat.batch', run: async () => null }
}
