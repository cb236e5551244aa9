import type { Readable } from 'node:stream'
import { AppError } from '../http/errors.js'
import { findJsonProblem } from '../http/input-guard.js'
import { withVectorField } from './record-aliases.js'
import { checkBody } from '../http/validation.js'
import type { ProjectView } from '../projects/queries.js'
import { computeMissingVectors, type Embedder, hasVector, missingVectorAndText } from './computed.js'
import * as q from './queries.js'
import { EmbeddingInput, type EmbeddingRecord } from './schemas.js'
import { BatchRejected, checkRecord, type EmbeddingsContext, type WritableProject, writeBatch } from './service.js'

/**
 * NDJSON import and export: one record per line, `{"text_id", "text", "vector", "metadata"}`
 * (the fields of a batch upload; a line may bring text without a vector, as an upload may).
 * Both stream: memory stays constant whatever the size.
 */

const EXPORT_PAGE = 500
/** A line longer than this is reported and skipped, not buffered: 16,000 floats need ~300 KB. */
const MAX_LINE_BYTES = 8 * 1024 * 1024
const MAX_REPORTED_ERRORS = 1000

/** The project's records in text_id order, read page by page (keyset), one line each. */
export async function* exportLines(ctx: Pick<EmbeddingsContext, 'db'>, project: ProjectView): AsyncGenerator<string> {
  let after: string | null = null
  for (;;) {
    const page = await q.pageAfter(ctx.db, project.id, after, EXPORT_PAGE)
    if (page.length === 0) return
    let chunk = ''
    for (const row of page) {
      chunk += `${JSON.stringify({
        text_id: row.text_id,
        ...(row.text !== null ? { text: row.text } : {}),
        vector: row.vector,
        ...(row.metadata !== null && row.metadata !== undefined ? { metadata: row.metadata } : {}),
      })}\n`
    }
    yield chunk
    after = (page[page.length - 1] as q.StoredEmbedding).text_id
  }
}

interface Line {
  number: number
  text: string | null
}

/** Splits a byte stream into lines without ever holding more than one line (or MAX_LINE_BYTES). */
async function* splitLines(stream: Readable): AsyncGenerator<Line> {
  let pending: Buffer[] = []
  let pendingBytes = 0
  let tooLong = false
  let number = 0
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let start = 0
    for (;;) {
      const end = chunk.indexOf(0x0a, start)
      const piece = chunk.subarray(start, end === -1 ? chunk.length : end)
      if (!tooLong) {
        pending.push(piece)
        pendingBytes += piece.length
        if (pendingBytes > MAX_LINE_BYTES) {
          tooLong = true
          pending = []
        }
      }
      if (end === -1) break
      number++
      yield { number, text: tooLong ? null : Buffer.concat(pending).toString('utf8') }
      pending = []
      pendingBytes = 0
      tooLong = false
      start = end + 1
    }
  }
  if (pendingBytes > 0 || tooLong) yield { number: number + 1, text: tooLong ? null : Buffer.concat(pending).toString('utf8') }
}

export interface ImportReport {
  lines: number
  imported: number
  rejected: number
  batches: Array<{ first_line: number; last_line: number; status: 'imported' | 'rejected' }>
  errors: Array<{ line: number; text_id: string | null; message: string }>
}

/**
 * Imports NDJSON records in batches of `batchSize` lines. Each batch is written in one
 * transaction, whole or not at all: a batch holding a bad line is rejected, and the report
 * names every bad line, so that exactly those batches can be sent again once fixed. Records
 * are upserted, so sending a line twice is harmless. The lines of a batch that bring text
 * without a vector are embedded with one call before the batch is written; when that call
 * fails, the batch is rejected like one with a bad line and the import goes on (a provider
 * that keeps failing is cooled down by the gateway, so the later batches fail fast).
 */
export async function importLines(
  ctx: EmbeddingsContext,
  project: WritableProject,
  stream: Readable,
  batchSize: number,
  embed: Embedder,
): Promise<ImportReport> {
  const report: ImportReport = { lines: 0, imported: 0, rejected: 0, batches: [], errors: [] }
  let batch: Array<{ line: number; item: EmbeddingInput | null }> = []
  const fail = (line: number, textId: string | null, message: string) => {
    if (report.errors.length < MAX_REPORTED_ERRORS) report.errors.push({ line, text_id: textId, message })
  }

  const flush = async () => {
    if (batch.length === 0) return
    const first = (batch[0] as { line: number }).line
    const last = (batch[batch.length - 1] as { line: number }).line
    const items = batch.filter((entry) => entry.item !== null) as Array<{ line: number; item: EmbeddingInput }>
    let status: 'imported' | 'rejected' = items.length === batch.length ? 'imported' : 'rejected'
    let records: EmbeddingRecord[] | null = null
    if (status === 'imported') {
      try {
        records = await computeMissingVectors(project, items.map((entry) => entry.item), embed)
      } catch (error) {
        // An AppError is the call's answer (a provider failure, a limit, a vector that does not
        // fit): it rejects this batch only. Anything else is the server's fault and ends the import.
        if (!(error instanceof AppError)) throw error
        const needing = items.find((entry) => !hasVector(entry.item)) as { line: number; item: EmbeddingInput }
        fail(needing.line, needing.item.text_id, `the vectors of lines ${first}–${last} could not be computed: ${error.message}`)
        status = 'rejected'
      }
    }
    if (records !== null) {
      try {
        await writeBatch(ctx, project, records, 'lines')
      } catch (error) {
        if (!(error instanceof BatchRejected)) throw error
        for (const problem of error.problems) {
          const entry = items[problem.index] as { line: number; item: EmbeddingInput }
          fail(entry.line, entry.item.text_id, problem.message)
        }
        status = 'rejected'
      }
    }
    if (status === 'imported') report.imported += batch.length
    else report.rejected += batch.length
    report.batches.push({ first_line: first, last_line: last, status })
    batch = []
  }

  for await (const line of splitLines(stream)) {
    if (line.text !== null && line.text.trim() === '') continue
    report.lines++
    const entry = { line: line.number, item: null as EmbeddingInput | null }
    if (line.text === null) {
      fail(line.number, null, `line is longer than ${MAX_LINE_BYTES} bytes`)
    } else {
      let parsed: unknown
      try {
        parsed = withVectorField(JSON.parse(line.text))
      } catch {
        fail(line.number, null, 'line is not valid JSON')
      }
      if (parsed !== undefined) {
        const textId = typeof (parsed as { text_id?: unknown })?.text_id === 'string' ? (parsed as { text_id: string }).text_id : null
        const unclean = findJsonProblem(parsed, 'body')
        const issues = unclean ? [unclean] : checkBody(EmbeddingInput, parsed)
        const missing = issues.length === 0 ? missingVectorAndText(parsed as EmbeddingInput) : null
        const problem = issues.length === 0 && missing === null ? checkRecord(project, parsed as EmbeddingInput) : null
        if (issues.length > 0) fail(line.number, textId, issues.map((i) => `${i.location.replace(/^body\.?/, '') || 'record'}: ${i.message}`).join('; '))
        else if (missing) fail(line.number, textId, missing)
        else if (problem) fail(line.number, textId, problem.message)
        else entry.item = parsed as EmbeddingInput
      }
    }
    batch.push(entry)
    if (batch.length >= batchSize) await flush()
  }
  await flush()
  return report
}
