/**
 * A project's vectors in process memory, packed row after row in one Float32Array, with the
 * embedding id and text id of each row. Rows stay dense: a deleted row's place is taken by the
 * last row, so exact search reads `count × dimensions` floats and nothing else. The native
 * engine searches small projects (and filtered subsets) here exactly, and feeds the HNSW index
 * from here.
 */
export class VectorStore {
  /** Row of each embedding id. */
  private readonly rowOf = new Map<number, number>()
  ids: Float64Array
  textIds: string[] = []
  data: Float32Array
  count = 0

  constructor(
    readonly dimensions: number,
    capacity = 1024,
  ) {
    this.ids = new Float64Array(capacity)
    this.data = new Float32Array(capacity * dimensions)
  }

  has(id: number): boolean {
    return this.rowOf.has(id)
  }

  row(id: number): number | undefined {
    return this.rowOf.get(id)
  }

  /** Inserts the row, or replaces the vector and text id of an id already held. */
  put(id: number, textId: string, vector: ArrayLike<number>): void {
    let row = this.rowOf.get(id)
    if (row === undefined) {
      if (this.count === this.ids.length) this.grow()
      row = this.count++
      this.rowOf.set(id, row)
      this.ids[row] = id
    }
    this.textIds[row] = textId
    this.data.set(vector, row * this.dimensions)
  }

  /** Removes the row. Returns whether it was held, and the id of the row moved into its place. */
  delete(id: number): { deleted: boolean; moved?: number } {
    const row = this.rowOf.get(id)
    if (row === undefined) return { deleted: false }
    this.rowOf.delete(id)
    const last = --this.count
    if (row !== last) {
      const moved = this.ids[last] as number
      this.ids[row] = moved
      this.textIds[row] = this.textIds[last] as string
      this.data.copyWithin(row * this.dimensions, last * this.dimensions, (last + 1) * this.dimensions)
      this.rowOf.set(moved, row)
      this.textIds.length = last
      return { deleted: true, moved }
    }
    this.textIds.length = last
    return { deleted: true }
  }

  vector(row: number): Float32Array {
    return this.data.subarray(row * this.dimensions, (row + 1) * this.dimensions)
  }

  /** The held rows' floats, without the spare capacity. */
  packed(): Float32Array {
    return this.data.subarray(0, this.count * this.dimensions)
  }

  /**
   * A copy of the held rows' floats, made a few megabytes at a time with pauses between, so
   * that the event loop keeps turning: copied at once, 150 MB stalled it for half a second.
   */
  async copyPacked(): Promise<Float32Array> {
    const floats = this.count * this.dimensions
    const copy = new Float32Array(floats)
    const step = 1 << 20
    for (let start = 0; start < floats; start += step) {
      copy.set(this.data.subarray(start, Math.min(floats, start + step)), start)
      await new Promise((resolve) => setImmediate(resolve))
    }
    return copy
  }

  /** Bytes held, for the status report. */
  get bytes(): number {
    return this.data.byteLength + this.ids.byteLength
  }

  private grow(): void {
    const capacity = Math.max(1024, Math.ceil(this.ids.length * 1.5))
    const ids = new Float64Array(capacity)
    ids.set(this.ids)
    const data = new Float32Array(capacity * this.dimensions)
    data.set(this.data)
    this.ids = ids
    this.data = data
  }

  /** A store over arrays read back from a snapshot. */
  static restore(dimensions: number, ids: Float64Array, textIds: string[], data: Float32Array): VectorStore {
    const store = new VectorStore(dimensions, Math.max(1024, ids.length))
    store.ids.set(ids)
    store.data.set(data)
    store.textIds = textIds
    store.count = ids.length
    for (let row = 0; row < ids.length; row++) store.rowOf.set(ids[row] as number, row)
    return store
  }
}
