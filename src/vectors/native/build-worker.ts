import { readFileSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'
import { crc32 } from 'node:zlib'
import { normalize } from './normalize.js'
import { loadUsearch } from './usearch.js'

/**
 * Builds a project's HNSW index off the main thread (over unit-length copies of the vectors,
 * quantised to 8 bits: see normalize.ts) (usearch's `add` is synchronous: 100k
 * vectors take tens of seconds, during which HTTP must keep answering), saves it to `path`,
 * and reports the file's size and CRC-32 for the snapshot manifest.
 */
export interface BuildRequest {
  dimensions: number
  /** The ids of the rows to index, in row order. */
  ids: Float64Array
  /** Their vectors, row after row (a copy, handed over to the worker). */
  data: Float32Array
  connectivity: number
  expansionAdd: number
  expansionSearch: number
  threads: number
  path: string
}

export interface BuildResult {
  bytes: number
  crc: number
  seconds: number
}

const request = workerData as BuildRequest
const loaded = loadUsearch()
if ('problem' in loaded) throw new Error(loaded.problem)
const { Index, MetricKind, ScalarKind } = loaded.usearch
const started = performance.now()
const index = new Index({
  dimensions: request.dimensions,
  metric: MetricKind.Cos,
  quantization: ScalarKind.I8,
  connectivity: request.connectivity,
  expansion_add: request.expansionAdd,
  expansion_search: request.expansionSearch,
  multi: false,
})
const { dimensions } = request
for (let row = 0; row < request.ids.length; row++) normalize(request.data.subarray(row * dimensions, (row + 1) * dimensions))
if (request.ids.length > 0) index.add(BigUint64Array.from(request.ids, (id) => BigInt(id)), request.data, request.threads)
index.save(request.path)
const file = readFileSync(request.path)
const result: BuildResult = { bytes: file.length, crc: crc32(file), seconds: (performance.now() - started) / 1000 }
parentPort?.postMessage(result)
