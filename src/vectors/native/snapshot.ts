import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { VectorStore } from './store.js'

/**
 * A project's native index saved in the data folder, so that a restart loads it and reads
 * only the changes made since (`seq`) instead of every vector. Two files per project in
 * `<data folder>/vector-index/p<id>/`:
 *
 * - `index.usearch`: usearch's own file (absent for projects searched exactly);
 * - `store.bin`: `LLMBVEC1`, a uint32 header length, the header (JSON: the manifest below),
 *   then the embedding ids (float64), the vectors (float32) and the text ids (JSON).
 *
 * Both are written to temporary names and renamed, `store.bin` last; its header carries the
 * size and CRC-32 of itself and of the index file, so a damaged or half-written snapshot is
 * recognised before any byte of it reaches usearch (which trusts its input), and the project
 * is then read again from the database.
 */
export interface SnapshotManifest {
  version: 1
  projectId: number
  createdAt: string
  dimensions: number
  seq: number
  count: number
  textIdsBytes: number
  bodyCrc: number
  index: { bytes: number; crc: number } | null
}

const MAGIC = Buffer.from('LLMBVEC1')

export const snapshotDir = (root: string, projectId: number) => join(root, `p${Number(projectId)}`)
export const indexFile = (dir: string) => join(dir, 'index.usearch')

export async function saveStore(dir: string, store: VectorStore, manifest: Omit<SnapshotManifest, 'version' | 'count' | 'textIdsBytes' | 'bodyCrc' | 'dimensions'>): Promise<void> {
  await mkdir(dir, { recursive: true })
  const ids = Buffer.from(store.ids.buffer, store.ids.byteOffset, store.count * 8)
  const data = Buffer.from(store.data.buffer, store.data.byteOffset, store.count * store.dimensions * 4)
  const textIds = Buffer.from(JSON.stringify(store.textIds.slice(0, store.count)))
  let bodyCrc = crc32(ids)
  bodyCrc = crc32(data, bodyCrc)
  bodyCrc = crc32(textIds, bodyCrc)
  const header: SnapshotManifest = { version: 1, ...manifest, dimensions: store.dimensions, count: store.count, textIdsBytes: textIds.length, bodyCrc }
  const headerBytes = Buffer.from(JSON.stringify(header))
  const length = Buffer.alloc(4)
  length.writeUInt32LE(headerBytes.length)
  const temporary = join(dir, `store.bin.${process.pid}.tmp`)
  await writeFile(temporary, [MAGIC, length, headerBytes, ids, data, textIds])
  await rename(temporary, join(dir, 'store.bin'))
}

export type LoadedSnapshot = { manifest: SnapshotManifest; store: VectorStore } | { problem: string }

/** The saved store, checked whole; the index file is checked by `checkIndexFile`. */
export async function loadStore(dir: string): Promise<LoadedSnapshot | null> {
  let bytes: Buffer
  try {
    bytes = await readFile(join(dir, 'store.bin'))
  } catch {
    return null
  }
  if (bytes.length < 12 || !bytes.subarray(0, 8).equals(MAGIC)) return { problem: 'store.bin is not a snapshot' }
  const headerLength = bytes.readUInt32LE(8)
  let manifest: SnapshotManifest
  try {
    manifest = JSON.parse(bytes.subarray(12, 12 + headerLength).toString('utf8')) as SnapshotManifest
  } catch {
    return { problem: 'store.bin has a damaged header' }
  }
  const start = 12 + headerLength
  const idsBytes = manifest.count * 8
  const dataBytes = manifest.count * manifest.dimensions * 4
  if (manifest.version !== 1 || bytes.length !== start + idsBytes + dataBytes + manifest.textIdsBytes) return { problem: 'store.bin has the wrong size' }
  const body = bytes.subarray(start)
  if (crc32(body) !== manifest.bodyCrc) return { problem: 'store.bin fails its checksum' }
  // Copies, so the arrays are aligned and own their memory.
  const ids = new Float64Array(body.buffer.slice(body.byteOffset, body.byteOffset + idsBytes))
  const data = new Float32Array(body.buffer.slice(body.byteOffset + idsBytes, body.byteOffset + idsBytes + dataBytes))
  const textIds = JSON.parse(body.subarray(idsBytes + dataBytes).toString('utf8')) as string[]
  if (textIds.length !== manifest.count) return { problem: 'store.bin has the wrong number of text ids' }
  return { manifest, store: VectorStore.restore(manifest.dimensions, ids, textIds, data) }
}

/** Whether the index file is the one the manifest describes. */
export async function checkIndexFile(dir: string, expected: { bytes: number; crc: number }): Promise<boolean> {
  try {
    const actual = await fileCrc(indexFile(dir))
    return actual.bytes === expected.bytes && actual.crc === expected.crc
  } catch {
    return false
  }
}

export async function fileCrc(path: string): Promise<{ bytes: number; crc: number }> {
  const bytes = await readFile(path)
  return { bytes: bytes.length, crc: crc32(bytes) }
}

/**
 * Removes a project's snapshot. Another process on the same data folder (a second server, a
 * worker) may be saving one into it at that moment: the store file, without which nothing
 * of the snapshot loads, goes first, and a folder that is not empty when it is removed last
 * (ENOTEMPTY) is left as it is. A snapshot saved meanwhile carries its own `seq`, and a load
 * reads every change since then from the database, the clearing included.
 */
export async function removeSnapshot(dir: string): Promise<void> {
  await rm(join(dir, 'store.bin'), { force: true })
  try {
    await rm(dir, { recursive: true, force: true })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw error
  }
}
