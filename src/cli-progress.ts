/**
 * Progress of a long command (an import, a database copy) on stderr, so that stdout keeps only
 * the report. On a terminal one bar is redrawn in place; piped to a file or a supervisor's log,
 * plain lines are written instead: the first and last of each step, and between them one a
 * second or one per tenth of the step, whichever comes first, so that a million rows make a
 * readable log rather than a flood. A line is written after the units it counts are done (for
 * an import: committed).
 */
export interface Progress {
  /** Starts a step of `total` units (rows, items); ends the previous one. */
  step(label: string, total: number): void
  advance(units: number): void
  /** Ends the last step. */
  finish(): void
}

const BAR_WIDTH = 24
const LINE_INTERVAL_MS = 1_000

export function createProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = stream.isTTY === true
  let label = ''
  let total = 0
  let done = 0
  let open = false
  let lastLineAt = 0
  let lastLine = ''
  let lastLineDone = 0

  const text = () => {
    if (total <= 0) return `${label}: ${done}`
    const shown = Math.min(done, total)
    const filled = Math.round((shown / total) * BAR_WIDTH)
    const bar = tty ? ` [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]` : ''
    return `${label}:${bar} ${shown}/${total} ${Math.floor((shown / total) * 100)}%`
  }
  const draw = (force: boolean) => {
    if (tty) {
      stream.write(`\r\x1b[2K${text()}`)
      return
    }
    const now = Date.now()
    const tenth = total > 0 && done - lastLineDone >= total / 10
    if (!force && !tenth && now - lastLineAt < LINE_INTERVAL_MS) return
    lastLineAt = now
    lastLineDone = done
    lastLine = text()
    stream.write(`${lastLine}\n`)
  }
  const end = () => {
    if (!open) return
    if (tty) stream.write(`\r\x1b[2K${text()}\n`)
    else if (text() !== lastLine) stream.write(`${text()}\n`)
    open = false
  }

  return {
    step(name, units) {
      end()
      label = name
      total = units
      done = 0
      open = true
      lastLineAt = 0
      lastLineDone = 0
      draw(true)
    },
    advance(units) {
      done += units
      draw(false)
    },
    finish: end,
  }
}
