import type { FastifyRequest } from 'fastify'
import type { GatewayDeps } from '../gateway/deps.js'
import { embedForStore } from '../gateway/embeddings.js'
import { AppError, type ValidationIssue } from '../http/errors.js'
import { firstNonFinite } from '../vectors/codec.js'
import type { EmbeddingInput, EmbeddingRecord } from './schemas.js'
import { checkBatch, type EmbeddingsContext, type WritableProject, writeBatch } from './service.js'

/**
 * Vectors computed by the server: a record, or a search, may bring text instead of a vector,
 * and the project's own instance embeds it through the gateway. Using the project's instance,
 * never one the client names, keeps every vector of a project from the one model its
 * dimensions were declared for, so that similarities between them mean something.
 */

/** Embeds texts with an instance, one vector per text, in order. */
export type Embedder = (instanceId: number, texts: string[]) => Promise<number[][]>

/** Embeds through the gateway for the caller of `request`, who is accounted the call. */
export function gatewayEmbedder(gateway: GatewayDeps, request: FastifyRequest): Embedder {
  return (instanceId, texts) => {
    // The gateway's own refusal of callers without a user speaks of the admin key; someone
    // searching a public project without a key needs to hear that a key is what is missing.
    if (request.caller.kind === 'anonymous') {
      throw new AppError('unauthorized', 'computing a vector from text calls the project\'s model, which is accounted to a user: send a user API key, or send the vector', {
        headers: { 'www-authenticate': 'Bearer' },
      })
    }
    return embedForStore(gateway, request, instanceId, texts)
  }
}

export const hasVector = (item: EmbeddingInput): item is EmbeddingRecord => item.vector !== undefined

/** The text to compute a record's vector from; an empty text has no meaning to embed. */
const textOf = (item: EmbeddingInput): string | null => (typeof item.text === 'string' && item.text !== '' ? item.text : null)

/** Why a record can have no vector at all, or null. */
export function missingVectorAndText(item: EmbeddingInput): string | null {
  return hasVector(item) || textOf(item) !== null ? null : `record '${item.text_id}' has neither vector nor text: send the vector, or the text to compute it from`
}

/** 422 naming every record that brings neither a vector nor a text to compute one from. */
export function requireVectorOrText(items: EmbeddingInput[], location: string) {
  const issues: ValidationIssue[] = items.flatMap((item, index) => {
    const problem = missingVectorAndText(item)
    return problem === null ? [] : [{ location: `${location}[${index}]`, message: problem }]
  })
  const first = issues[0]
  if (first) throw new AppError('validation_failed', first.message, { errors: issues.slice(0, 100) })
}

const instanceName = (project: WritableProject) => `${project.instance_owner}/${project.instance_handle}`

/**
 * A vector the instance computed, checked as a sent vector would be. A wrong length or a value
 * that is not a finite float is the instance's fault (a model that ignores the dimensions it
 * was asked for, or dimensions declared wrongly), not the client's: 502, naming the instance.
 */
export function checkComputedVector(vector: number[] | undefined, instance: string, dimensions: number, what: string): number[] {
  if (vector === undefined) throw new AppError('upstream_error', `instance ${instance} returned fewer vectors than texts it was sent`)
  if (vector.length !== dimensions) {
    throw new AppError(
      'upstream_error',
      `instance ${instance} returned a vector of ${vector.length} dimensions for ${what}, but it is declared with ${dimensions}: check its model and dimensions`,
    )
  }
  const bad = firstNonFinite(vector)
  if (bad >= 0) throw new AppError('upstream_error', `instance ${instance} returned a vector for ${what} whose value ${bad} is not a finite 32-bit float`)
  return vector
}

/**
 * Gives every record without a vector the one its text embeds to, with one call for the whole
 * batch (the gateway splits it into batches the provider accepts). A text sent twice is
 * embedded once: the same text gives the same vector, and the provider bills each input.
 */
export async function computeMissingVectors(project: WritableProject, items: EmbeddingInput[], embed: Embedder): Promise<EmbeddingRecord[]> {
  const texts = [...new Set(items.filter((item) => !hasVector(item)).map((item) => textOf(item) as string))]
  if (texts.length === 0) return items as EmbeddingRecord[]
  const vectors = await embed(project.instance_id, texts)
  const byText = new Map(texts.map((text, index) => [text, vectors[index]]))
  return items.map((item) =>
    hasVector(item) ? item : { ...item, vector: checkComputedVector(byText.get(textOf(item) as string), instanceName(project), project.dimensions, `text_id '${item.text_id}'`) },
  )
}

/**
 * Writes an upload whose records may bring text instead of vectors. An upload of vectors only
 * is written exactly as before. Otherwise the records are checked before the provider is
 * called, so that a batch that would be refused costs no call; a failed call stores nothing.
 */
export async function writeUpload(ctx: EmbeddingsContext, project: WritableProject, items: EmbeddingInput[], embed: Embedder, location = 'body.embeddings') {
  if (items.every(hasVector)) return writeBatch(ctx, project, items, location)
  checkBatch(project, items, location)
  return writeBatch(ctx, project, await computeMissingVectors(project, items, embed), location)
}
