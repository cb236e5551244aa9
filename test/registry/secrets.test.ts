import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import { openDatabase } from '../../src/db/database.js'
import { API_KEY_CONTEXT, readApiKey } from '../../src/registry/instances.js'
import { createKeyring, open } from '../../src/secrets/keyring.js'
import { killGroup, runCli, spawnServer } from '../helpers/cli.js'
import { createTestDatabase, DATABASES, type TestDatabase } from '../helpers/databases.js'
import { createUser, requester, startTestServer, type TestServer } from '../helpers/server.js'

const silent = pino({ level: 'silent' })
const providerKey = (name: string) => `sk-${name}-${randomBytes(12).toString('hex')}`
const instanceBody = (handle: string, apiKey: string) => ({
  instance_handle: handle,
  endpoint: 'https://api.example.org/v1/embeddings',
  model: 'embed-test',
  dimensions: 8,
  api_key: apiKey,
})

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry)
    return statSync(path).isDirectory() ? filesUnder(path) : [path]
  })
}

for (const kind of DATABASES) {
  describe(`stored provider keys on the ${kind} database`, () => {
    let server: TestServer
    let alice: { key: string }
    const plaintexts: string[] = []

    before(async () => {
      server = await startTestServer(kind, { captureLogs: true })
      alice = await createUser(server, 'alice')
      for (const name of ['one', 'two', 'three']) {
        const key = providerKey(name)
        plaintexts.push(key)
        const created = await server.request('PUT', `/v1/llm-instances/alice/${name}`, { key: alice.key, body: instanceBody(name, key) })
        assert.equal(created.status, 201)
      }
      // A replaced key must not linger either.
      await server.request('PATCH', '/v1/llm-instances/alice/three', { key: alice.key, body: { api_key: plaintexts[2] } })
    })
    after(() => server?.close())

    it('never stores, returns or logs a provider key in plain text', async () => {
      const { pool } = server.running.database
      const tables = await pool.query<{ table_name: string }>("select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'")
      for (const { table_name } of tables.rows) {
        const rows = await pool.query(`select t::text as row from ${table_name} t`)
        const text = rows.rows.map((r) => r.row).join('\n')
        for (const key of plaintexts) {
          assert.ok(!text.includes(key), `${table_name} holds a plain-text key`)
          assert.ok(!text.includes(Buffer.from(key).toString('hex')), `${table_name} holds a key as bytes`)
        }
      }
      const responses = [
        await server.request('GET', '/v1/llm-instances/alice/one', { key: alice.key }),
        await server.request('GET', '/v1/llm-instances/alice', { key: alice.key }),
        await server.request('GET', '/v1/users/alice', { key: alice.key }),
      ]
      for (const response of responses) for (const key of plaintexts) assert.ok(!response.text.includes(key))
      for (const key of plaintexts) assert.ok(!server.logText().includes(key), 'no key in the log')
      if (kind === 'embedded') {
        await pool.query('checkpoint')
        const needles = plaintexts.map((key) => Buffer.from(key))
        for (const file of filesUnder(server.testDatabase.dataDir)) {
          const bytes = readFileSync(file)
          for (const needle of needles) assert.equal(bytes.indexOf(needle), -1, `${file} holds a plain-text key`)
        }
      }
    })

    it('stores each key as AES-GCM ciphertext under the configured key id, bound to its column', async () => {
      const { rows } = await server.running.database.pool.query("select handle, api_key_ciphertext, api_key_key_id from llm_instances order by handle")
      const ids = new Set(rows.map((r) => r.api_key_key_id))
      assert.equal(ids.size, 1)
      const first = rows[0].api_key_ciphertext as Buffer
      assert.ok(first.length >= 1 + 12 + 16 + 10)
      assert.notDeepEqual(rows[0].api_key_ciphertext, rows[1].api_key_ciphertext)
    })
  })

  describe(`a server started with the wrong encryption key on the ${kind} database`, () => {
    let testDatabase: TestDatabase
    const originalKey = `original-${randomBytes(20).toString('hex')}`
    const wrongKey = `wrong-${randomBytes(20).toString('hex')}`
    const secret = providerKey('wrongkey')

    before(async () => {
      testDatabase = await createTestDatabase(kind)
      const first = await startTestServer(kind, { testDatabase, env: { ENCRYPTION_KEY: originalKey } })
      const alice = await createUser(first, 'alice')
      await first.request('PUT', '/v1/llm-instances/alice/keyed', { key: alice.key, body: instanceBody('keyed', secret) })
      await first.request('PUT', '/v1/llm-instances/alice/keyless', { key: alice.key, body: { ...instanceBody('keyless', 'x'), api_key: undefined } })
      await first.close()
    })
    after(() => testDatabase?.cleanup())

    it('starts, says so once in the log, and marks the affected instances; the key never turns to garbage', async () => {
      const server = await startTestServer(kind, { testDatabase, captureLogs: true, env: { ENCRYPTION_KEY: wrongKey } })
      try {
        const errors = server.logs().filter((line) => line.level === 'error')
        assert.equal(errors.length, 1)
        assert.equal(errors[0]?.unreadable_secrets, 1)
        assert.match(String(errors[0]?.msg), /encrypted with an encryption key this server does not have/)
        const keyed = await server.request('GET', '/v1/llm-instances/alice/keyed')
        assert.equal(keyed.status, 200)
        assert.equal(keyed.body.api_key_status, 'unreadable')
        assert.equal((await server.request('GET', '/v1/llm-instances/alice/keyless')).body.api_key_status, null)
        // What the gateway will do with it: a 503 naming the fix, never a wrong key.
        const row = (await server.running.database.pool.query("select i.*, 'alice' as owner from llm_instances i where handle = 'keyed'")).rows[0]
        assert.throws(() => readApiKey(createKeyring(wrongKey), row), (error: { status?: number; code?: string }) => error.status === 503 && error.code === 'secret_unreadable')
        assert.equal(readApiKey(createKeyring(originalKey), row), secret)
      } finally {
        await server.close()
      }
    })

    it('reads the key again with the old key in ENCRYPTION_KEY_PREVIOUS', async () => {
      const server = await startTestServer(kind, { testDatabase, captureLogs: true, env: { ENCRYPTION_KEY: wrongKey, ENCRYPTION_KEY_PREVIOUS: originalKey } })
      try {
        assert.equal(server.logs().filter((line) => line.level === 'error').length, 0)
        assert.equal((await server.request('GET', '/v1/llm-instances/alice/keyed')).body.api_key_status, 'ok')
      } finally {
        await server.close()
      }
    })
  })

  describe(`llmbase keys on the ${kind} database`, () => {
    let testDatabase: TestDatabase
    const secrets: Record<string, string> = { one: providerKey('r1'), two: providerKey('r2'), three: providerKey('r3') }
    let env: Record<string, string>

    before(async () => {
      testDatabase = await createTestDatabase(kind)
      const adminKey = `admin-${randomBytes(20).toString('hex')}`
      // On the embedded database the encryption key is the one generated in the data folder.
      env = { ...testDatabase.env, LLMBASE_ADMIN_KEY: adminKey, ...(kind === 'postgres' ? { ENCRYPTION_KEY: `first-${randomBytes(20).toString('hex')}` } : {}) }
      const server = await spawnServer(env)
      try {
        const request = requester(server.url, adminKey)
        await request('PUT', '/v1/users/alice', { body: { user_handle: 'alice', email: 'alice@example.org' } })
        for (const [name, key] of Object.entries(secrets)) {
          assert.equal((await request('PUT', `/v1/llm-instances/alice/${name}`, { body: instanceBody(name, key) })).status, 201)
        }
      } finally {
        killGroup(server, 'SIGTERM')
        await server.exited
      }
    })
    after(() => testDatabase?.cleanup())

    const currentKey = () => (kind === 'embedded' ? readFileSync(join(testDatabase.dataDir, 'encryption.key'), 'utf8').trim() : env.ENCRYPTION_KEY as string)

    async function decryptAll(key: string) {
      const database = await openDatabase({ url: testDatabase.env.DATABASE_URL, dataDir: testDatabase.dataDir, poolSize: 1, logger: silent })
      try {
        const { rows } = await database.pool.query('select handle, api_key_ciphertext, api_key_key_id from llm_instances order by handle')
        const keyring = createKeyring(key)
        return Object.fromEntries(rows.map((r) => [r.handle, open(keyring, { ciphertext: r.api_key_ciphertext, keyId: r.api_key_key_id }, API_KEY_CONTEXT)]))
      } finally {
        await database.close()
      }
    }

    it('checks that every stored key decrypts', async () => {
      const check = await runCli(['keys', 'check'], env)
      assert.equal(check.code, 0, check.stderr)
      assert.match(check.stdout, /^3 of 3 stored provider keys and webhook secrets decrypt/)
      const wrong = await runCli(['keys', 'check'], { ...env, ENCRYPTION_KEY: 'not-the-key-not-the-key-not-the-key-00' })
      assert.equal(wrong.code, 1)
      assert.match(wrong.stdout, /^0 of 3/)
      assert.match(wrong.stdout, /alice\/one: encrypted with a key that is not configured/)
    })

    it('rotates every stored key to a new encryption key in one go; every instance still works', async () => {
      const oldKey = currentKey()
      const newKey = `rotated-${randomBytes(20).toString('hex')}`
      const rotated = await runCli(['keys', 'rotate'], { ...env, LLMBASE_NEW_ENCRYPTION_KEY: newKey })
      assert.equal(rotated.code, 0, rotated.stderr)
      assert.match(rotated.stdout, /Re-encrypted 3 stored secret\(s\)/)
      if (kind === 'embedded') {
        assert.equal(currentKey(), newKey, 'the data folder holds the new key')
        assert.ok(!existsSync(join(testDatabase.dataDir, 'encryption.key.next')))
        assert.equal(statSync(join(testDatabase.dataDir, 'encryption.key')).mode & 0o777, 0o600)
      } else {
        assert.match(rotated.stdout, /set ENCRYPTION_KEY to the new key/)
        env = { ...env, ENCRYPTION_KEY: newKey }
      }
      assert.deepEqual(await decryptAll(newKey), secrets)
      await assert.rejects(decryptAll(oldKey), 'the old key no longer decrypts anything')

      const server = await spawnServer(env)
      try {
        const request = requester(server.url, env.LLMBASE_ADMIN_KEY as string)
        for (const name of Object.keys(secrets)) {
          const got = await request('GET', `/v1/llm-instances/alice/${name}`)
          assert.equal(got.body.api_key_status, 'ok', name)
        }
        assert.ok(!server.output().includes('"level":"error"'))
      } finally {
        killGroup(server, 'SIGTERM')
        await server.exited
      }
    })

    it('generates the new key when asked, printing it once', async () => {
      const generated = await runCli(['keys', 'rotate', '--generate'], env)
      assert.equal(generated.code, 0, generated.stderr)
      const printed = /ENCRYPTION_KEY=(\S+)/.exec(generated.stdout)?.[1]
      assert.ok(printed && printed.length >= 32)
      if (kind === 'postgres') env = { ...env, ENCRYPTION_KEY: printed }
      assert.equal(currentKey(), printed)
      assert.deepEqual(await decryptAll(printed), secrets)
    })

    it('refuses to rotate when a stored key does not decrypt, and changes nothing', async () => {
      const before = await decryptAll(currentKey())
      const refused = await runCli(['keys', 'rotate'], { ...env, ENCRYPTION_KEY: 'some-other-key-some-other-key-000000', LLMBASE_NEW_ENCRYPTION_KEY: 'x'.repeat(40) })
      assert.equal(refused.code, 1)
      assert.match(refused.stderr, /cannot be decrypted with the configured keys, so nothing was rotated/)
      assert.deepEqual(await decryptAll(currentKey()), before)
      if (kind === 'embedded') assert.ok(!existsSync(join(testDatabase.dataDir, 'encryption.key.next')))
    })

    it('encrypts plain-text keys left by an import and verifies each', async () => {
      const imported = providerKey('imported')
      const database = await openDatabase({ url: testDatabase.env.DATABASE_URL, dataDir: testDatabase.dataDir, poolSize: 1, logger: silent })
      try {
        await database.pool.query(
          "insert into llm_instances (owner_id, handle, api_standard, endpoint, model, dimensions, api_key_plaintext) select id, 'imported', 'openai', 'https://api.example.org/e', 'm', 8, $1 from users where handle = 'alice'",
          [imported],
        )
      } finally {
        await database.close()
      }
      const check = await runCli(['keys', 'check'], env)
      assert.equal(check.code, 1)
      assert.match(check.stdout, /alice\/imported: stored in plain text/)
      const result = await runCli(['keys', 'import-plaintext'], env)
      assert.equal(result.code, 0, result.stderr)
      assert.match(result.stdout, /Encrypted and verified 1 provider key/)
      assert.equal((await decryptAll(currentKey())).imported, imported)
      const again = await runCli(['keys', 'import-plaintext'], env)
      assert.match(again.stdout, /No plain-text provider keys found/)
      assert.equal((await runCli(['keys', 'check'], env)).code, 0)
    })
  })
}
