import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

/**
 * usearch (Apache-2.0, from npm with prebuilt binaries for Linux, macOS and Windows) is the
 * native engine's HNSW index and SIMD exact search. Loaded on demand, so that a machine where
 * the binary does not load still runs everything else: `loadUsearch` says why.
 */
export type Usearch = typeof import('usearch')

const require = createRequire(import.meta.url)

export function loadUsearch(): { usearch: Usearch; version: string } | { problem: string } {
  try {
    const usearch = require('usearch') as Usearch
    return { usearch, version: packageVersion(require.resolve('usearch')) }
  } catch (error) {
    return { problem: `the usearch library could not be loaded: ${(error as Error).message.split('\n')[0]}` }
  }
}

/** The version in the package.json above `file` (usearch does not export its package.json). */
function packageVersion(file: string): string {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string }
      if (manifest.name === 'usearch') return manifest.version ?? 'unknown'
    } catch {
      // not this folder
    }
  }
  return 'unknown'
}
