import { errors } from '../http/errors.js'

/**
 * A preValidation hook for routes that need vectors: on a database without pgvector they answer 503,
 * naming what is missing, instead of failing on a table that does not exist.
 */
export const requireVectors = (unavailable: string | null) => async () => {
  if (unavailable !== null) throw errors.capabilityUnavailable(`vector features are unavailable: ${unavailable}`)
}
