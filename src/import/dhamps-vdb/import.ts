import type pg from 'pg'
import type { Progress } from '../../cli-progress.js'
import type { Executor } from '../../db/database.js'
import { addDefinitionShare } from '../../registry/queries/definitions.js'
import { upsertInstanceShare } from '../../registry/queries/instances.js'
import { upsertProjectShare } from '../../projects/queries.js'
import type { Keyring } from '../../secrets/keyring.js'
import type { ImportContext } from './context.js'
import { importEmbeddings } from './embeddings.js'
import { importProjects } from './projects.js'
import { importApiStandards, importDefinitions, importInstances } from './registry.js'
import { ImportReport } from './report.js'
import { describeLayout, detectLayout } from './schema.js'
import { importShares, type SharedResource } from './shares.js'
import { readSource } from './source.js'
import * as target from './target.js'
import { importUsers } from './users.js'

export interface ImportOptions {
  source: pg.Pool
  db: Executor
  keyring: Keyring
  oldKey: string | null
  dryRun: boolean
  batchSize: number
  progress: Progress
}

/**
 * `llmbase import dhamps-vdb`: reads the whole source in one read-only snapshot and imports
 * it step by step, each step after the ones it depends on (users before what they own,
 * instances before projects, projects before records). Every item is matched by owner and
 * handle (records by project and text_id) before it is written, so a rerun adds only what is
 * missing: an import cut short, by a failure or a kill, is finished by running it again.
 */
export async function importDhampsVdb(options: ImportOptions): Promise<ImportReport> {
  const client = await options.source.connect().catch((error: Error) => {
    throw new Error(`cannot connect to the dhamps-vdb database (--from): ${error.message}`, { cause: error })
  })
  try {
    const layout = await detectLayout(client)
    await client.query('begin isolation level repeatable read read only')
    const data = await readSource(client, layout)
    let planned = 0
    const report = new ImportReport(describeLayout(layout), options.dryRun)
    const ctx: ImportContext = { ...options, report, plannedId: () => --planned }

    const users = await importUsers(ctx, data.users)
    const standards = await importApiStandards(ctx, data.apiStandards)
    const definitions = await importDefinitions(ctx, data.definitions, users, standards)
    const instances = await importInstances(ctx, data.instances, users, standards, definitions)
    const resources = <T extends { id: number; owner: string; handle: string }>(items: T[], ids: (item: T) => number | null) =>
      new Map<number, SharedResource>(items.map((item) => [item.id, { label: `${item.owner}/${item.handle}`, owner: item.owner, id: ids(item) }]))

    const instanceShares = await importShares(ctx, {
      kind: 'instance shares',
      shares: data.instanceShares,
      resources: resources(data.instances, (i) => instances.get(i.id)?.id ?? null),
      users,
      existing: await target.listInstanceShares(ctx.db),
      write: (tx, s) => upsertInstanceShare(tx, s.resourceId, s.userId, s.role),
    })
    await importShares(ctx, {
      kind: 'definition shares',
      shares: data.definitionShares,
      resources: resources(data.definitions, (d) => definitions.get(d.id) ?? null),
      users,
      existing: await target.listDefinitionShares(ctx.db),
      write: (tx, s) => addDefinitionShare(tx, s.resourceId, s.userId),
    })
    const projects = await importProjects(ctx, data.projects, users, instances, instanceShares)
    await importShares(ctx, {
      kind: 'project shares',
      shares: data.projectShares,
      resources: resources(data.projects, (p) => {
        const mapped = projects.get(p.id)
        return mapped && 'id' in mapped ? mapped.id : null
      }),
      users,
      existing: await target.listProjectShares(ctx.db),
      write: (tx, s) => upsertProjectShare(tx, s.resourceId, s.userId, s.role),
    })
    const instanceLabels = new Map(data.instances.map((i) => [i.id, `${i.owner}/${i.handle}`]))
    await importEmbeddings(ctx, client, layout, projects, instanceLabels)
    ctx.progress.finish()
    await client.query('commit')
    return report
  } catch (error) {
    options.progress.finish()
    await client.query('rollback').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}
