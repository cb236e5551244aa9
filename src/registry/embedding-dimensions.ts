/**
 * Output sizes of embedding models whose providers publish them. Some models can return
 * shorter vectors than their full size (OpenAI's text-embedding-3 models and Gemini's
 * gemini-embedding-001 truncate Matryoshka-style; Cohere's embed-v4.0 offers four sizes), so an
 * instance may choose its `dimensions` there; others always answer with one size, and a
 * request naming a size is refused by the provider (Cohere's v3 models). Seeds 000 and 001
 * disagree on gemini-embedding-001 (3,072 or 768): both are right, 3,072 is its default.
 * Models not listed are taken at their word: whatever `dimensions` the instance says.
 *
 * Sources: platform.openai.com/docs/guides/embeddings, ai.google.dev/gemini-api/docs/embeddings,
 * docs.cohere.com/reference/embed (2025). docs/registry.md#dimensions lists the same.
 */
interface Sizes {
  /** The size the provider returns when none is asked for. */
  full: number
  /** The sizes an instance may choose: a range, or a list. */
  reducible: { min: number; max: number } | readonly number[] | null
}

const MODELS: Readonly<Record<string, Sizes>> = {
  'text-embedding-3-large': { full: 3072, reducible: { min: 1, max: 3072 } },
  'text-embedding-3-small': { full: 1536, reducible: { min: 1, max: 1536 } },
  'text-embedding-ada-002': { full: 1536, reducible: null },
  'gemini-embedding-001': { full: 3072, reducible: { min: 128, max: 3072 } },
  'embed-v4.0': { full: 1536, reducible: [256, 512, 1024, 1536] },
  'embed-multilingual-v3.0': { full: 1024, reducible: null },
  'embed-english-v3.0': { full: 1024, reducible: null },
  'embed-multilingual-light-v3.0': { full: 384, reducible: null },
  'embed-english-light-v3.0': { full: 384, reducible: null },
}

/** Why `dimensions` cannot be the output size of `model`, or null when it can (or the model is unknown). */
export function dimensionsProblem(model: string, dimensions: number): string | null {
  const sizes = MODELS[model]
  if (!sizes || dimensions === sizes.full) return null
  const { reducible } = sizes
  if (reducible === null) return `${model} always returns ${sizes.full} dimensions`
  if (Array.isArray(reducible)) {
    return reducible.includes(dimensions) ? null : `${model} returns ${reducible.join(', ')} dimensions (default ${sizes.full})`
  }
  const range = reducible as { min: number; max: number }
  return dimensions >= range.min && dimensions <= range.max ? null : `${model} returns ${range.min} to ${range.max} dimensions (default ${sizes.full})`
}

/**
 * Whether a call must name the size it wants: for a known fixed-size model it must not (the
 * provider refuses the parameter); for models we do not know, the instance's size is sent, as
 * OpenAI-compatible servers that truncate expect.
 */
export const sendsDimensions = (model: string): boolean => MODELS[model]?.reducible !== null
