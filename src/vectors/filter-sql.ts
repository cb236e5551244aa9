import { type RawBuilder, sql } from 'kysely'
import type { SearchRequest } from './engine.js'
import type { Condition } from './filter.js'

/**
 * Filter conditions as SQL over `metadata`. Every key and value is a bound parameter, never
 * text spliced into the statement, so a filter cannot inject SQL however it is written.
 */
export function conditionSql(condition: Condition): RawBuilder<boolean> {
  const value = sql`metadata #> ${condition.path}::text[]`
  const json = JSON.stringify(condition.value ?? null)
  switch (condition.op) {
    case 'eq':
      return sql<boolean>`(${value}) = ${json}::jsonb`
    case 'ne':
      // A record without the key is "not equal" too.
      return sql<boolean>`(${value}) is distinct from ${json}::jsonb`
    case 'in':
      return sql<boolean>`coalesce((${value}) in (select jsonb_array_elements(${json}::jsonb)), false)`
    case 'nin':
      return sql<boolean>`not coalesce((${value}) in (select jsonb_array_elements(${json}::jsonb)), false)`
    case 'exists':
      return condition.value ? sql<boolean>`(${value}) is not null` : sql<boolean>`(${value}) is null`
    default: {
      // Ranges compare numbers with numbers and strings with strings (in byte order); a value
      // of the other type never matches. CASE, because AND does not promise to test the type
      // before the cast, and casting the string "1790" to numeric would fail the query.
      const operator = sql.raw({ gt: '>', gte: '>=', lt: '<', lte: '<=' }[condition.op])
      if (typeof condition.value === 'number') {
        return sql<boolean>`(case when jsonb_typeof(${value}) = 'number' then (${value})::numeric ${operator} ${condition.value}::numeric else false end)`
      }
      return sql<boolean>`(case when jsonb_typeof(${value}) = 'string' then (metadata #>> ${condition.path}::text[]) collate "C" ${operator} ${String(condition.value)} else false end)`
    }
  }
}

/** The reference API's `metadata_path`/`metadata_value` exclusion; records without the key stay. */
export const exclusionSql = (key: string, value: string) =>
  sql<boolean>`((metadata ->> ${key}) is null or trim(metadata ->> ${key}) <> trim(${value}))`

/** A search's conditions on rows besides the project: metadata filter, exclusion, and the record searched from. */
export function searchConditions(request: Pick<SearchRequest, 'filter' | 'excludeMetadata' | 'excludeTextId'>): Array<RawBuilder<boolean>> {
  return [
    ...request.filter.map(conditionSql),
    ...(request.excludeMetadata ? [exclusionSql(request.excludeMetadata.key, request.excludeMetadata.value)] : []),
    ...(request.excludeTextId !== undefined ? [sql<boolean>`text_id <> ${request.excludeTextId}`] : []),
  ]
}

/** `project_id = … and (c1) and (c2)…`: each condition in parentheses, so an OR inside one cannot escape the project. */
export const projectWhere = (projectId: number, conditions: Array<RawBuilder<boolean>>) =>
  sql.join([sql`project_id = ${sql.lit(projectId)}`, ...conditions.map((c) => sql`(${c})`)], sql` and `)
