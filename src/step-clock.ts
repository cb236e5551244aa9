/**
 * Milliseconds per step of a start-up, each counted from the end of the step before, for the
 * `startup_ms` debug line and `npm run bench -- startup`. With `fromProcessStart`, a first
 * step `process` counts from the process's own start (Node, loading the modules) to the clock's.
 */
export interface StepClock {
  readonly steps: Record<string, number>
  mark(step: string): void
}

export function stepClock(options: { fromProcessStart?: boolean } = {}): StepClock {
  let last = performance.now()
  const steps: Record<string, number> = options.fromProcessStart ? { process: Math.round(last) } : {}
  return {
    steps,
    mark(step) {
      const now = performance.now()
      steps[step] = Math.round(now - last)
      last = now
    },
  }
}
