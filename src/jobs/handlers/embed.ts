import { Type } from 'typebox'
import type { JobHandler } from '../types.js'
import type { HandlerDeps, SubmittableType } from './index.js'

// Placeholder until the embed job lands.
export const embedType: SubmittableType = { type: 'embed', payload: Type.Object({}), check: async () => ({ total: 0 }) }
export function embedHandler(_deps: HandlerDeps): JobHandler {
  return { type: 'embed', run: async () => null }
}
