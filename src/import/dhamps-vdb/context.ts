import type { Progress } from '../../cli-progress.js'
import type { Executor } from '../../db/database.js'
import type { Keyring } from '../../secrets/keyring.js'
import type { ImportReport } from './report.js'

/** What every step of an import needs. */
export interface ImportContext {
  /** The llmbase database. */
  db: Executor
  keyring: Keyring
  /** dhamps-vdb's ENCRYPTION_KEY, for its encrypted provider keys; null when not given. */
  oldKey: string | null
  dryRun: boolean
  /** Items (and embedding records) written per transaction. */
  batchSize: number
  report: ImportReport
  progress: Progress
  /** In a dry run, an id for an item that would be created (negative: it matches no row). */
  plannedId(): number
}

/** A user of the source as it is found in llmbase. */
export interface UserRef {
  id: number
  handle: string
}

/**
 * Runs `write` for each item, `batchSize` items per transaction: a kill between two batches
 * leaves whole items behind, which a rerun finds and skips. A dry run writes nothing.
 */
export async function writeInBatches<T>(ctx: ImportContext, label: string, items: T[], write: (tx: Executor, item: T) => Promise<unknown>): Promise<void> {
  if (items.length === 0) return
  ctx.progress.step(label, items.length)
  for (let start = 0; start < items.length; start += ctx.batchSize) {
    const batch = items.slice(start, start + ctx.batchSize)
    if (!ctx.dryRun) {
      await ctx.db.transaction().execute(async (tx) => {
        for (const item of batch) await write(tx, item)
      })
    }
    ctx.progress.advance(batch.length)
  }
}

/** Descriptions the reference stored as '' when none was given. */
export const textOrNull = (value: string | null) => (value === null || value === '' ? null : value)

/** The reference stored 0 for a context limit it was not given (and dropped some it was). */
export const contextLimitOf = (value: number | null) => (value === null || value <= 0 ? null : value)

/** Equal as JSON values, whatever the order of object keys (jsonb keeps its own order, JSON.parse the text's). */
export const sameJson = (a: unknown, b: unknown) => canonical(a ?? null) === canonical(b ?? null)

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}
