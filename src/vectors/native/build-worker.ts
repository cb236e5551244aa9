import { readFileSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'
import { crc32 } from 'node:zlib'
import { loadUsearch } from './usearch.js'

/**
 * Builds a project's HNSW index off the main thread (usearch's `add` is synchronous: 100k
 * vectors take tens of seconds, during which HTTP must keep answering), saves it to `path`,
 * and reports the file's size and CRC-32 for the snapshot manifest.
 */
export interface BuildRequest {
  dimensions: number
  ids: Float64Array
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
  quantization: ScalarKind.F32,
  connectivity: request.connectivity,
  expansion_add: request.expansionAdd,
  expansion_search: request.expansionSearch,
  multi: false,
})
if (request.ids.length > 0) index.add(BigUint64Array.from(request.ids, (id) => BigInt(id)), request.data, request.threads)
index.save(request.path)
const file = readFileSync(request.path)
const result: BuildResult = { bytes: file.length, crc: crc32(file), seconds: (performance.now() - started) / 1000 }
parentPort?.postMessage(result)
