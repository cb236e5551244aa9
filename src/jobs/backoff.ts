/**
 * Delay before the next attempt after attempt `attempt` (1-based) failed: `base · 2^(attempt-1)`,
 * capped at `max`, then scaled by a random factor in [0.5, 1) ("equal jitter", as pg-boss does)
 * so that jobs that failed together do not all come back in the same instant.
 *
 * With the defaults (10 s, 1 h) attempts 2–5 wait about 5–10 s, 10–20 s, 20–40 s and 40–80 s.
 */
export function backoffDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1))
  return Math.round(exponential * (0.5 + random() / 2))
}

/**
 * Delay from a fixed schedule (webhook deliveries): entry `attempt - 1`, the last entry once
 * the schedule runs out, with ±10 % jitter.
 */
export function scheduledDelayMs(attempt: number, schedule: readonly number[], random: () => number = Math.random): number {
  if (schedule.length === 0) return 0
  const delay = schedule[Math.min(attempt - 1, schedule.length - 1)] ?? 0
  return Math.round(delay * (0.9 + random() / 5))
}
