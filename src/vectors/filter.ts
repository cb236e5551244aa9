import type { ValidationIssue } from '../http/errors.js'

/**
 * Metadata filters of `POST /v1/similars/…`, in a Mongo-like shape that every engine
 * understands:
 *
 *     { "author": "Kant", "year": { "$gte": 1780, "$lt": 1800 }, "work.title": { "$exists": true } }
 *
 * Keys are top-level or dotted nested paths; a plain value means equality; an object whose
 * keys all start with `$` holds operators; everything is combined with AND. Parsed here into
 * conditions, so that each engine compiles the same thing (SQL with bound values for pgvector).
 */
export type FilterOperator = 'eq' | 'ne' | 'in' | 'nin' | 'gt' | 'gte' | 'lt' | 'lte' | 'exists'

export interface Condition {
  /** `work.title` → `['work', 'title']` */
  path: string[]
  op: FilterOperator
  value: unknown
}

const OPERATORS: Record<string, FilterOperator> = {
  $eq: 'eq',
  $ne: 'ne',
  $in: 'in',
  $nin: 'nin',
  $gt: 'gt',
  $gte: 'gte',
  $lt: 'lt',
  $lte: 'lte',
  $exists: 'exists',
}
const MAX_CONDITIONS = 32
const MAX_LIST = 1000

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value)

/** The conditions of a filter, or the problems with it (located under `body.filter`). */
export function parseFilter(filter: unknown): { conditions: Condition[]; issues: ValidationIssue[] } {
  const conditions: Condition[] = []
  const issues: ValidationIssue[] = []
  if (filter === undefined || filter === null) return { conditions, issues }
  if (!isPlainObject(filter)) return { conditions, issues: [{ location: 'body.filter', message: 'must be an object of metadata keys' }] }
  for (const [key, spec] of Object.entries(filter)) {
    const location = `body.filter.${key}`
    const path = key.split('.')
    if (key.length > 200 || path.some((segment) => segment.length === 0)) {
      issues.push({ location, message: 'must be a metadata key, or keys joined by "." for nested values' })
      continue
    }
    const operators = isPlainObject(spec) && Object.keys(spec).length > 0 && Object.keys(spec).every((k) => k.startsWith('$'))
    if (!operators) {
      conditions.push({ path, op: 'eq', value: spec })
      continue
    }
    for (const [name, value] of Object.entries(spec)) {
      const op = OPERATORS[name]
      const problem = op ? checkOperand(op, value) : `unknown operator ${name}; use one of ${Object.keys(OPERATORS).join(', ')}`
      if (problem) issues.push({ location: `${location}.${name}`, message: problem })
      else conditions.push({ path, op: op as FilterOperator, value })
    }
  }
  if (conditions.length > MAX_CONDITIONS) issues.push({ location: 'body.filter', message: `may hold at most ${MAX_CONDITIONS} conditions` })
  return { conditions, issues }
}

function checkOperand(op: FilterOperator, value: unknown): string | null {
  switch (op) {
    case 'in':
    case 'nin':
      return Array.isArray(value) && value.length <= MAX_LIST ? null : `must be an array of at most ${MAX_LIST} values`
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return typeof value === 'number' || typeof value === 'string' ? null : 'must be a number or a string'
    case 'exists':
      return typeof value === 'boolean' ? null : 'must be true or false'
    default:
      return null
  }
}
