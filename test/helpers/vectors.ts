/**
 * Seeded synthetic embeddings: a Gaussian mixture on the unit sphere. `C` centroids from
 * N(0, I), normalised; each point is normalise(centroid + sigma · N(0, I)). The same seed gives
 * the same data on every machine, so nothing is downloaded or committed.
 */
export function createRandom(seed: number) {
  let state = seed >>> 0 || 1
  const uniform = () => {
    // xorshift32
    state ^= state << 13
    state >>>= 0
    state ^= state >>> 17
    state ^= state << 5
    state >>>= 0
    return (state + 0.5) / 4294967296
  }
  let spare: number | null = null
  const gaussian = () => {
    if (spare !== null) {
      const value = spare
      spare = null
      return value
    }
    const u = uniform()
    const v = uniform()
    const r = Math.sqrt(-2 * Math.log(u))
    spare = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }
  return { uniform, gaussian }
}

export function normalise(vector: Float32Array): Float32Array {
  let norm = 0
  for (const x of vector) norm += x * x
  norm = Math.sqrt(norm) || 1
  for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] as number) / norm
  return vector
}

export interface Mixture {
  /** Points of the corpus. */
  points: Float32Array[]
  /** Which centroid each point came from. */
  clusters: number[]
  /** Query points from the same mixture, not in the corpus. */
  queries: Float32Array[]
}

export function gaussianMixture(options: { count: number; dimensions: number; queries: number; centroids?: number; sigma?: number; seed?: number }): Mixture {
  const { count, dimensions } = options
  const random = createRandom(options.seed ?? 42)
  const sigma = options.sigma ?? 0.06
  const centroids = Array.from({ length: options.centroids ?? 100 }, () => normalise(Float32Array.from({ length: dimensions }, random.gaussian)))
  const draw = () => {
    const cluster = Math.floor(random.uniform() * centroids.length)
    const centroid = centroids[cluster] as Float32Array
    const point = new Float32Array(dimensions)
    for (let i = 0; i < dimensions; i++) point[i] = (centroid[i] as number) + sigma * random.gaussian()
    return { point: normalise(point), cluster }
  }
  const points: Float32Array[] = []
  const clusters: number[] = []
  for (let i = 0; i < count; i++) {
    const { point, cluster } = draw()
    points.push(point)
    clusters.push(cluster)
  }
  const queries = Array.from({ length: options.queries }, () => draw().point)
  return { points, clusters, queries }
}

/** Indices of the `k` points most similar to `query` (cosine on unit vectors = dot product), exactly. */
export function exactNeighbours(points: Float32Array[], query: Float32Array, k: number, accept: (index: number) => boolean = () => true): number[] {
  const best: Array<{ index: number; score: number }> = []
  for (let index = 0; index < points.length; index++) {
    if (!accept(index)) continue
    const point = points[index] as Float32Array
    let score = 0
    for (let i = 0; i < point.length; i++) score += (point[i] as number) * (query[i] as number)
    if (best.length < k || score > (best[best.length - 1] as { score: number }).score) {
      best.push({ index, score })
      best.sort((a, b) => b.score - a.score)
      if (best.length > k) best.pop()
    }
  }
  return best.map((b) => b.index)
}

/** The share of `expected` found in `found`. */
export function recall(found: readonly string[], expected: readonly string[]): number {
  const set = new Set(found)
  return expected.filter((id) => set.has(id)).length / (expected.length || 1)
}
