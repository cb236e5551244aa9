import type { Prices } from '../../db/tables.js'
import type { Usage } from '../providers/types.js'
import { PRICE_TABLE } from './price-table.js'

/** A dated snapshot name (`claude-sonnet-4-5-20250929`, `gpt-4o-2024-08-06`) is priced as its model. */
const DATED_SUFFIX = /-(\d{8}|\d{4}-\d{2}-\d{2})$/

export function tablePrices(model: string): Prices | null {
  const name = model.replace(/^models\//, '').toLowerCase()
  return PRICE_TABLE[name] ?? PRICE_TABLE[name.replace(DATED_SUFFIX, '')] ?? null
}

/** The prices that apply: the instance's or definition's own fields first, the table for the rest. */
export function effectivePrices(model: string, overrides: Prices | null): Prices | null {
  const table = tablePrices(model)
  if (!table && !overrides) return null
  return { ...(table ?? {}), ...(overrides ?? {}) }
}

/**
 * Cost in USD of one call, or null when a price that the usage needs is unknown: a wrong
 * figure would be worse than none, since budgets are enforced on it. Cached input is billed
 * at its own price where the provider has one, else at the input price.
 */
export function costOf(usage: Usage, prices: Prices | null): number | null {
  if (!prices) return null
  const cached = usage.cached_tokens ?? 0
  const written = usage.cache_write_tokens ?? 0
  const plainInput = Math.max(0, usage.prompt_tokens - cached - written)
  const parts: Array<[number, number | undefined]> = [
    [plainInput, prices.input],
    [cached, prices.cached_input ?? prices.input],
    [written, prices.cache_write ?? prices.input],
    [usage.completion_tokens, prices.output],
  ]
  let total = 0
  for (const [tokens, price] of parts) {
    if (tokens === 0) continue
    if (price === undefined) return null
    total += tokens * price
  }
  return total / 1_000_000
}

/**
 * What a call counts against a spending budget. Owners and editors set the prices of their own
 * instances and definitions; to keep a budget set by an admin from being lowered that way, a
 * budget counts the higher of the call's cost and its cost at the repository's list prices.
 */
export function budgetCostOf(usage: Usage, model: string, overrides: Prices | null): number | null {
  const charged = costOf(usage, effectivePrices(model, overrides))
  const listed = costOf(usage, tablePrices(model))
  if (charged === null) return listed
  return listed === null ? charged : Math.max(charged, listed)
}
