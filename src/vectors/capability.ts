import { errors } from '../http/errors.js'
import type { VectorEngine } from './engine.js'

/**
 * A preValidation hook for routes that need vectors: on a database without pgvector they answer 503,
 * naming what is missing, instead of failing on a table that does not exist.
 */
export const requireVectors = (unavailable: string | null) => async () => {
  if (unavailable !== null) throw errors.capabilityUnavailable(`vector features are unavailable: ${unavailable}`)
}

/**
 * The engine, for a route that needs one. A server without one answers such routes 503 in
 * `requireVectors` before any handler runs; this says the same, so that a handler never holds
 * a null engine typed as one.
 */
export function engineOf(engine: VectorEngine | null, unavailable: string | null): VectorEngine {
  if (!engine) throw errors.capabilityUnavailable(`vector features are unavailable: ${unavailable ?? 'no vector engine is available'}`)
  return engine
}
