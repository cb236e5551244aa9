import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** Small helpers shared by the benchmarks: timing and percentiles. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index] as number
}

export interface Summary {
  runs: number
  p50: number
  p95: number
  p99: number
  max: number
}

/** Runs `work` `runs` times (after `warmup` unmeasured runs) and summarises the times in ms. */
export async function measure(work: () => Promise<unknown>, options: { runs: number; warmup?: number }): Promise<Summary> {
  for (let i = 0; i < (options.warmup ?? 10); i++) await work()
  const times: number[] = []
  for (let i = 0; i < options.runs; i++) {
    const started = performance.now()
    await work()
    times.push(performance.now() - started)
  }
  times.sort((a, b) => a - b)
  return { runs: times.length, p50: percentile(times, 50), p95: percentile(times, 95), p99: percentile(times, 99), max: times[times.length - 1] as number }
}

export const ms = (value: number) => `${value.toFixed(2)} ms`

export function table(rows: Array<Record<string, string | number>>): string {
  const columns = Object.keys(rows[0] ?? {})
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)))
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] as number)).join(' | ')} |`
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(columns.map((c) => String(r[c]))))].join('\n')
}

/** The commit a benchmark ran on, marked when the work tree has uncommitted changes. */
export function commitOf(): string {
  const root = fileURLToPath(new URL('..', import.meta.url))
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' }).trim() !== ''
    return dirty ? `${commit} with uncommitted changes` : commit
  } catch {
    return 'unknown commit'
  }
}
