/**
 * Seed 000's way of uploading one record: the record itself as the body, its vector in
 * `embedding` (`POST /v1/embeddings/jdoe/proj` with `{"text_id", "instance_handle",
 * "embedding", "metadata"}`). It becomes the batch the route takes, `{"embeddings": [record]}`,
 * with `vector`; everything else about the record is checked as usual.
 */
export function asUploadBody(body: unknown): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body
  const object = body as Record<string, unknown>
  if ('embeddings' in object) {
    return Array.isArray(object.embeddings) ? { ...object, embeddings: object.embeddings.map(withVectorField) } : object
  }
  return 'text_id' in object ? { embeddings: [withVectorField(object)] } : object
}

/** `embedding` is the seed's name of `vector`; when both are sent, both reach validation and `embedding` is refused. */
export function withVectorField(record: unknown): unknown {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return record
  const { embedding, ...rest } = record as Record<string, unknown>
  if (embedding === undefined || 'vector' in rest) return record
  return { ...rest, vector: embedding }
}
