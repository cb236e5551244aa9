import type { KeyStatus } from './legacy-keys.js'

/**
 * What an import did (or, in a dry run, would do), kind by kind: new items, items it completed
 * (a key added to a user or an instance imported before), items already there as they are in
 * the source, items llmbase holds differently (left as they are: an import never changes what
 * is there), and items skipped, each with the reason.
 */
export const KINDS = ['users', 'api standards', 'definitions', 'instances', 'projects', 'project shares', 'instance shares', 'definition shares', 'embeddings'] as const
export type Kind = (typeof KINDS)[number]

const SINGULAR: Record<Kind, string> = {
  users: 'user',
  'api standards': 'API standard',
  definitions: 'definition',
  instances: 'instance',
  projects: 'project',
  'project shares': 'project share',
  'instance shares': 'instance share',
  'definition shares': 'definition share',
  embeddings: 'embedding',
}

export type Outcome = 'new' | 'completed' | 'unchanged' | 'differs' | 'skipped'

/** `note`: something the operator should know about an item that was imported (or matched). */
type ProblemOutcome = 'differs' | 'skipped' | 'note'

interface Problem {
  kind: Kind
  outcome: ProblemOutcome
  reason: string
  items: string[]
  count: number
}

/** Items named per problem; the rest are counted. */
const NAMED_ITEMS = 3

export class ImportReport {
  readonly counts = new Map<Kind, Record<Outcome, number>>(KINDS.map((kind) => [kind, { new: 0, completed: 0, unchanged: 0, differs: 0, skipped: 0 }]))
  private readonly problems = new Map<string, Problem>()
  readonly keys: Array<{ instance: string; status: KeyStatus; from: string | null }> = []

  constructor(
    readonly source: string,
    readonly dryRun: boolean,
  ) {}

  count(kind: Kind, outcome: Outcome, n = 1): void {
    const counts = this.counts.get(kind) as Record<Outcome, number>
    counts[outcome] += n
  }

  /** An item skipped (with what depends on it), left as llmbase holds it, or imported with a note, and why. */
  problem(kind: Kind, outcome: ProblemOutcome, item: string, reason: string): void {
    if (outcome !== 'note') this.count(kind, outcome)
    const key = `${kind}\u0000${outcome}\u0000${reason}`
    const entry = this.problems.get(key) ?? { kind, outcome, reason, items: [], count: 0 }
    entry.count++
    if (entry.items.length < NAMED_ITEMS) entry.items.push(item)
    this.problems.set(key, entry)
  }

  key(instance: string, status: KeyStatus, from: string | null): void {
    this.keys.push({ instance, status, from })
  }

  describe(): string {
    const lines = [this.dryRun ? `Dry run of an import from ${this.source}: nothing was written.` : `Imported from ${this.source}.`]
    const header = this.dryRun ? ['', 'would add', 'would complete', 'already there', 'differs (kept)', 'skipped'] : ['', 'new', 'completed', 'already there', 'differs (kept)', 'skipped']
    const rows = [header, ...KINDS.map((kind) => {
      const c = this.counts.get(kind) as Record<Outcome, number>
      return [kind, c.new, c.completed, c.unchanged, c.differs, c.skipped].map(String)
    })]
    const widths = header.map((_, column) => Math.max(...rows.map((row) => (row[column] as string).length)))
    for (const row of rows) lines.push(row.map((cell, column) => (column === 0 ? cell.padEnd(widths[0] as number) : cell.padStart(widths[column] as number))).join('  '))
    if (this.keys.length > 0) {
      lines.push('', 'Provider keys:')
      for (const key of this.keys) lines.push(`  ${key.instance}: ${KEY_TEXT[key.status]}${key.from ? ` (${key.from} in dhamps-vdb)` : ''}`)
    }
    if (this.problems.size > 0) {
      lines.push('', 'Problems:')
      for (const p of this.problems.values()) {
        const what = p.count === 1 ? `${SINGULAR[p.kind]} ${p.items[0]}` : `${p.count} ${p.kind} (${p.items.join(', ')}${p.count > p.items.length ? ', …' : ''})`
        lines.push(`  ${what}: ${OUTCOME_TEXT[p.outcome]}: ${p.reason}`)
      }
    }
    return `${lines.join('\n')}\n`
  }
}

const OUTCOME_TEXT: Record<ProblemOutcome, string> = { skipped: 'skipped', differs: 'kept as llmbase has it', note: 'note' }

const KEY_TEXT: Record<KeyStatus, string> = {
  ok: 'ok',
  could_not_decrypt: 'could not decrypt (wrong or missing old encryption key): not carried over',
  no_key: 'no key',
}
