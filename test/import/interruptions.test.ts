import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import { ROOT, runCli } from '../helpers/cli.js'
import { createTestDatabase, DATABASES, type TestDatabase } from '../helpers/databases.js'
import { addManyLetters, countsOf, fillScenario, LETTERS, queryTarget, type Scenario, type SourceDatabase, startSourceDatabase } from './fixtures/dhamps-vdb.js'

const ENCRYPTION_KEY = `import-test-encryption-${randomBytes(16).toString('hex')}`
const ADMIN_KEY = `import-test-admin-${randomBytes(16).toString('hex')}`
const BULK = 20_000
/** Records of the source that the import writes: the scenario's 23 and the bulk ones. */
const IMPORTABLE = LETTERS + 3 + BULK

const envFor = (target: TestDatabase, scenario: Scenario) => ({
  ...target.env,
  ENCRYPTION_KEY,
  LLMBASE_ADMIN_KEY: ADMIN_KEY,
  DHAMPS_ENCRYPTION_KEY: scenario.encryptionKey,
})

/** The records in the target, and whether every project's kept count agrees with them. */
async function storedRecords(target: TestDatabase) {
  const { rows } = await queryTarget(
    target,
    `select (select count(*)::int from embeddings) as records,
       (select count(*)::int from projects p where p.embedding_count <> (select count(*) from embeddings e where e.project_id = p.id)) as miscounted`,
  )
  return rows[0] as { records: number; miscounted: number }
}

for (const kind of DATABASES) {
  describe(`an import into the ${kind} database that is cut short`, () => {
    let source: SourceDatabase
    let scenario: Scenario
    const targets: TestDatabase[] = []

    before(async () => {
      source = await startSourceDatabase()
      scenario = await fillScenario(source, 4)
      await addManyLetters(source, 4, BULK)
    })
    after(async () => {
      await source?.stop()
      await Promise.all(targets.map((t) => t.cleanup()))
    })
    const freshTarget = async () => {
      const target = await createTestDatabase(kind)
      targets.push(target)
      return target
    }

    it('keeps the batches written before a failing one, and a rerun completes the import', async () => {
      const target = await freshTarget()
      const env = envFor(target, scenario)
      assert.equal((await runCli(['migrate', 'up'], env)).code, 0)
      // A record that the target refuses: the batch holding it fails, and the import stops.
      await queryTarget(target, "alter table embeddings add constraint import_test_poison check (text_id <> 'bulk005000')")
      const failed = await runCli(['import', 'dhamps-vdb', '--from', source.url, '--batch-size', '500'], env)
      assert.equal(failed.code, 1)
      assert.match(failed.stderr, /^llmbase: .*import_test_poison/m)
      // Ten pages of 500 source records were committed whole: the scenario's (4 of them
      // skipped) and the first bulk ones. The eleventh, holding the refused record, left nothing.
      const partial = await storedRecords(target)
      assert.deepEqual(partial, { records: 5000 - 4, miscounted: 0 })

      await queryTarget(target, 'alter table embeddings drop constraint import_test_poison')
      const rerun = await runCli(['import', 'dhamps-vdb', '--from', source.url, '--batch-size', '500'], env)
      assert.equal(rerun.code, 0, rerun.stderr)
      const counts = countsOf(rerun.stdout)
      assert.deepEqual(counts.embeddings, { new: IMPORTABLE - partial.records, completed: 0, unchanged: partial.records, differs: 0, skipped: 4 })
      assert.deepEqual(counts.users, { new: 0, completed: 0, unchanged: 2, differs: 0, skipped: 3 })
      assert.deepEqual(await storedRecords(target), { records: IMPORTABLE, miscounted: 0 })
      const { rows } = await queryTarget(target, "select text, metadata from embeddings where text_id = 'bulk005000'")
      assert.deepEqual(rows, [{ text: 'bulk text 5000', metadata: { g: 5000 } }])
    })

    it('leaves whole batches behind when killed with SIGKILL, and a rerun completes the import', async () => {
      const target = await freshTarget()
      const env = envFor(target, scenario)
      const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli.ts'), 'import', 'dhamps-vdb', '--from', source.url, '--batch-size', '100'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, ...env },
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)))
      let stderr = ''
      // Progress lines come after their records are committed: kill once some are.
      createInterface({ input: child.stderr }).on('line', (line) => {
        stderr += `${line}\n`
        const done = /^embeddings: (\d+)\/\d+/.exec(line)
        if (done && Number(done[1]) > 0) process.kill(-(child.pid as number), 'SIGKILL')
      })
      assert.equal(await exited, 'SIGKILL', `the import ended before it was killed:\n${stderr}`)

      const partial = await storedRecords(target)
      assert.equal(partial.miscounted, 0, 'every committed batch kept its project count in step')
      assert.ok(partial.records > 0 && partial.records < IMPORTABLE, `${partial.records} records after the kill`)

      const rerun = await runCli(['import', 'dhamps-vdb', '--from', source.url, '--batch-size', '100'], env)
      assert.equal(rerun.code, 0, rerun.stderr)
      const counts = countsOf(rerun.stdout)
      assert.deepEqual(counts.embeddings, { new: IMPORTABLE - partial.records, completed: 0, unchanged: partial.records, differs: 0, skipped: 4 })
      assert.deepEqual(await storedRecords(target), { records: IMPORTABLE, miscounted: 0 })
    })
  })
}

describe('an import from a database that is not a known dhamps-vdb schema', () => {
  let source: SourceDatabase
  let target: TestDatabase
  before(async () => {
    source = await startSourceDatabase()
    target = await createTestDatabase('embedded')
  })
  after(async () => {
    await source?.stop()
    await target?.cleanup()
  })
  const runImport = () => runCli(['import', 'dhamps-vdb', '--from', source.url], { ...target.env, ENCRYPTION_KEY, LLMBASE_ADMIN_KEY: ADMIN_KEY })

  it('is refused with a message naming what was found, and imports nothing', async () => {
    const empty = await runImport()
    assert.equal(empty.code, 1)
    assert.match(empty.stderr, /^llmbase: this is not a dhamps-vdb database: it has no db_version table \(found no tables at all\)$/m)

    await source.query('create table db_version (version integer not null); insert into db_version values (9); create table users (user_handle text)')
    const future = await runImport()
    assert.equal(future.code, 1)
    assert.match(future.stderr, /^llmbase: dhamps-vdb schema version 9 \(db_version\) is not one this import reads \(versions 1 to 5\)$/m)

    await source.query('update db_version set version = 4')
    const partial = await runImport()
    assert.equal(partial.code, 1)
    assert.match(partial.stderr, /^llmbase: this database says dhamps-vdb schema version 4, but lacks table projects, table users_projects, table api_standards, table embeddings, column users\.vdb_key or vdb_api_key, table instances or llm_service_instances, table definitions or llm_service_definitions, table instances_shared_with or llm_service_instances_shared_with \(found tables db_version, users\)$/m)
    assert.equal(empty.stdout + future.stdout + partial.stdout, '', 'no report: nothing was imported')
    const { rows } = await queryTarget(target, 'select count(*)::int as users from users')
    assert.deepEqual(rows, [{ users: 1 }])
  })
})
