import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { createTestDatabase, DATABASES, type TestDatabase } from '../helpers/databases.js'
import { requester, startTestServer } from '../helpers/server.js'
import { countsOf, fillScenario, LETTERS, letterVector, type Scenario, type SourceDatabase, type SourceVersion, startSourceDatabase } from './fixtures/dhamps-vdb.js'

const ENCRYPTION_KEY = `import-test-encryption-${randomBytes(16).toString('hex')}`
const ADMIN_KEY = `import-test-admin-${randomBytes(16).toString('hex')}`

/** What every import of the scenario must add, kind by kind (see fillScenario). */
const ADDED = {
  users: { new: 2, skipped: 3 },
  instances: { new: 3, skipped: 1 },
  projects: { new: 2, skipped: 2 },
  'project shares': { new: 1, skipped: 0 },
  'instance shares': { new: 1, skipped: 0 },
  embeddings: { new: LETTERS + 3, skipped: 4 },
}

for (const version of [3, 4, 5] as SourceVersion[]) {
  for (const kind of DATABASES) {
    describe(`importing a dhamps-vdb version ${version} database into the ${kind} database`, () => {
      let source: SourceDatabase
      let scenario: Scenario
      let target: TestDatabase
      const encrypted = version >= 4

      before(async () => {
        source = await startSourceDatabase()
        scenario = await fillScenario(source, version)
        target = await createTestDatabase(kind)
      })
      after(async () => {
        await source?.stop()
        await target?.cleanup()
      })

      const runImport = (extra: string[] = [], oldKey: string | undefined = scenario.encryptionKey) =>
        runCli(['import', 'dhamps-vdb', '--from', source.url, ...extra], {
          ...target.env,
          ENCRYPTION_KEY,
          LLMBASE_ADMIN_KEY: ADMIN_KEY,
          ...(oldKey !== undefined ? { DHAMPS_ENCRYPTION_KEY: oldKey } : {}),
        })

      it('describes the command, its options and its exit codes in --help', async () => {
        const help = await runCli(['import', 'dhamps-vdb', '--help'])
        assert.equal(help.code, 0)
        for (const option of ['--from', '--dry-run', '--batch-size', '--old-encryption-key-env', '--database-url', '--data-dir']) assert.ok(help.stdout.includes(option), option)
        assert.match(help.stdout.replace(/\s+/g, ' '), /Exit code 0 when the import ran to the end .* 1 when it did not/)
      })

      it('reports in a dry run what it would import, and writes nothing', async () => {
        const result = await runImport(['--dry-run'])
        assert.equal(result.code, 0, result.stderr)
        assert.match(result.stdout, new RegExp(`^Dry run of an import from dhamps-vdb schema version ${version} .*: nothing was written\\.$`, 'm'))
        const counts = countsOf(result.stdout)
        for (const [k, expected] of Object.entries(ADDED)) assert.deepEqual({ new: counts[k]?.new, skipped: counts[k]?.skipped }, expected, k)
        // The real import below finds everything new: the dry run left nothing behind.
      })

      it(`imports users with their keys, ${encrypted ? 'definitions, ' : ''}instances, projects, records and shares, reporting what it skips and why`, async () => {
        // First with a wrong old encryption key (for the versions that encrypt): the instances
        // come without their keys, and the report says so for each one.
        const result = await runImport([], encrypted ? 'not-the-old-key' : undefined)
        assert.equal(result.code, 0, result.stderr)
        const counts = countsOf(result.stdout)
        for (const [k, expected] of Object.entries(ADDED)) assert.deepEqual({ new: counts[k]?.new, skipped: counts[k]?.skipped }, expected, k)
        assert.deepEqual(counts['api standards'], { new: 1, completed: 0, unchanged: 1, differs: 0, skipped: 0 })
        if (encrypted) {
          assert.deepEqual(counts.definitions, { new: 1, completed: 0, unchanged: 1, differs: 0, skipped: 0 }, '_system/openai-large is matched to ours')
          assert.equal(counts['definition shares']?.new, version === 5 ? 1 : 0)
        }
        const expectedKey = encrypted ? 'could not decrypt' : 'ok (plain text in dhamps-vdb)'
        assert.match(result.stdout, new RegExp(`^  alice/embed5: ${expectedKey.replace(/[()]/g, '\\$&')}`, 'm'))
        assert.match(result.stdout, new RegExp(`^  bob/bobsvc: ${expectedKey.replace(/[()]/g, '\\$&')}`, 'm'))
        assert.match(result.stdout, /^ {2}alice\/nokey: no key$/m)
        assert.ok(!result.stdout.includes('sk-alice-embed5') && !result.stderr.includes('sk-alice-embed5'), 'no provider key is printed')
        for (const reason of [
          /user Alice: skipped: folds to alice, as "alice" does/,
          /user admin: skipped: admin is a reserved handle/,
          /user x y: skipped: is not a valid llmbase handle/,
          /project bob\/borrowed: skipped: it is bound to instance alice\/nokey, which bob neither owns nor has been given/,
          /2 embeddings \(alice\/letters small0, alice\/letters small1\): skipped: it was made with instance alice\/nokey/,
        ]) {
          assert.match(result.stdout, reason)
        }
      })

      if (encrypted) {
        it('adds the provider keys on a rerun with the right old encryption key, and nothing else', async () => {
          const result = await runImport()
          assert.equal(result.code, 0, result.stderr)
          const counts = countsOf(result.stdout)
          assert.deepEqual(counts.instances, { new: 0, completed: 2, unchanged: 1, differs: 0, skipped: 1 })
          for (const k of ['users', 'projects', 'embeddings', 'project shares', 'instance shares']) assert.equal(counts[k]?.new, 0, k)
          assert.match(result.stdout, /^ {2}alice\/embed5: ok \(encrypted in dhamps-vdb\)$/m)
        })
      }

      it('serves what it imported: the old keys work, vectors read back within half precision, search and shares work', async () => {
        const server = await startTestServer(kind, { testDatabase: target, env: { ENCRYPTION_KEY } })
        try {
          const alice = requester(server.url, scenario.keys.alice)
          const bob = requester(server.url, scenario.keys.bob)
          assert.deepEqual((await server.request('GET', '/v1/users')).body, ['_system', 'alice', 'bob'])
          const me = await alice('GET', '/v1/users/alice')
          assert.equal(me.status, 200, me.text)
          assert.equal(me.body.email, 'alice@example.org')
          const keys = await alice('GET', '/v1/users/alice/keys')
          assert.deepEqual(keys.body.keys.map((k: { label: string; prefix: string }) => [k.label, k.prefix]), [['imported from dhamps-vdb', '(imported)']], keys.text)

          const instance = await alice('GET', '/v1/llm-instances/alice/embed5')
          assert.equal(instance.status, 200, instance.text)
          assert.equal(instance.body.has_api_key, true)
          assert.equal(instance.body.api_key_status, 'ok')
          assert.equal(instance.body.dimensions, 5)
          if (encrypted) assert.equal(instance.body.definition_handle, 'mydef')
          assert.equal((await alice('GET', '/v1/llm-instances/alice/nokey')).body.has_api_key, false)

          const project = await alice('GET', '/v1/projects/alice/letters')
          assert.equal(project.status, 200, project.text)
          assert.equal(project.body.number_of_embeddings, LETTERS)
          assert.equal(project.body.public_read, true)
          assert.equal(project.body.instance.instance_handle, 'embed5')
          assert.deepEqual(JSON.parse(project.body.metadataScheme), { type: 'object', properties: { author: { type: 'string' } } })

          const records = await alice('GET', '/v1/embeddings/alice/letters?limit=100')
          assert.equal(records.status, 200, records.text)
          assert.equal(records.body.embeddings.length, LETTERS)
          for (const [k, record] of (records.body.embeddings as Array<{ text_id: string; vector: number[]; text?: string; metadata?: unknown }>).entries()) {
            assert.equal(record.text_id, `t${String(k).padStart(2, '0')}`)
            letterVector(k).forEach((value, i) => assert.ok(Math.abs((record.vector[i] as number) - value) < 1e-3, `${record.text_id}[${i}]: ${record.vector[i]} vs ${value}`))
            assert.equal(record.text, k === 18 ? undefined : `text ${k}`)
            assert.deepEqual(record.metadata, k === 19 ? undefined : { author: k % 2 === 0 ? 'Kant' : 'Hegel', k })
          }
          const similar = await alice('POST', '/v1/similars/alice/letters?threshold=0.99&include=metadata', { body: { vector: letterVector(7) } })
          assert.equal(similar.status, 200, similar.text)
          assert.equal(similar.body.results[0]?.id, 't07')
          assert.ok(similar.body.results[0].similarity > 0.999)

          // bob reads alice's project and instance through the shares, and his own project.
          assert.equal((await bob('GET', '/v1/projects/alice/letters')).body.role, 'reader')
          assert.equal((await bob('GET', '/v1/embeddings/alice/letters/t03')).status, 200)
          assert.equal((await bob('GET', '/v1/llm-instances/alice/embed5')).body.access_role, 'reader')
          assert.equal((await bob('GET', '/v1/projects/bob/notes')).body.number_of_embeddings, 3)
          assert.equal((await bob('GET', '/v1/projects/bob/borrowed')).status, 404)
          if (version === 5) assert.equal((await bob('GET', '/v1/llm-definitions/alice/mydef')).status, 200)
          assert.equal((await bob('POST', '/v1/embeddings/alice/letters', { body: { embeddings: [] } })).status >= 400, true, 'a reader may not write')
          assert.equal((await requester(server.url, 'f'.repeat(64))('GET', '/v1/users/alice')).status, 401, 'an unknown key of the old format is refused')
        } finally {
          await server.close()
        }
      })

      it('imports nothing twice on a rerun, and says that everything is already there', async () => {
        const result = await runImport()
        assert.equal(result.code, 0, result.stderr)
        const counts = countsOf(result.stdout)
        for (const [k, expected] of Object.entries(ADDED)) {
          assert.deepEqual(counts[k], { new: 0, completed: 0, unchanged: expected.new, differs: 0, skipped: expected.skipped }, k)
        }
      })
    })
  }
}
