import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { killGroup, runCli, spawnServer } from '../helpers/cli.js'
import { requester } from '../helpers/server.js'
import { embeddedDataDirs } from '../helpers/databases.js'

describe('the llmbase command', () => {
  const dataDirs = embeddedDataDirs()
  after(() => dataDirs.cleanup())
  const freshDataDir = dataDirs.fresh

  it('describes every command and option in --help', async () => {
    const top = await runCli(['--help'])
    assert.equal(top.code, 0)
    for (const command of ['serve', 'migrate', 'users']) assert.match(top.stdout, new RegExp(`\\b${command}\\b`))
    const serve = await runCli(['serve', '--help'])
    for (const option of ['--host', '--port', '--database-url', '--data-dir', '--dotenv', '--log-level']) assert.ok(serve.stdout.includes(option), option)
    const migrate = await runCli(['migrate', '--help'])
    for (const sub of ['up', 'down', 'status']) assert.match(migrate.stdout, new RegExp(`\\b${sub}\\b`))
    const create = await runCli(['users', 'create', '--help'])
    for (const option of ['--email', '--name', '--admin']) assert.ok(create.stdout.includes(option), option)
  })

  it('refuses to start with an admin key shorter than 32 characters, naming the problem', async () => {
    const result = await runCli(['serve'], { LLMBASE_ADMIN_KEY: 'short', PORT: '0', LLMBASE_DATA_DIR: await freshDataDir() })
    assert.equal(result.code, 1)
    assert.match(result.stderr, /LLMBASE_ADMIN_KEY must be at least 32 characters long/)
  })

  it('refuses to start on a PostgreSQL server without configured keys', async () => {
    const result = await runCli(['serve'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', PORT: '0' })
    assert.equal(result.code, 1)
    assert.match(result.stderr, /LLMBASE_ADMIN_KEY must be set/)
  })

  it('reports every bad setting at once', async () => {
    const result = await runCli(['serve'], { PORT: 'eighty', LOG_LEVEL: 'loud', BODY_LIMIT: 'huge', CORS_ORIGINS: 'example.org' })
    assert.equal(result.code, 1)
    for (const name of ['PORT', 'LOG_LEVEL', 'BODY_LIMIT', 'CORS_ORIGINS']) assert.match(result.stderr, new RegExp(name))
  })

  it('reads settings from a .env file, below the environment', async () => {
    const dir = await freshDataDir()
    writeFileSync(join(dir, '.env'), 'LOG_LEVEL=chatty\n')
    const fromFile = await runCli(['serve'], {}, dir)
    assert.match(fromFile.stderr, /LOG_LEVEL must be one of .* \(got "chatty"\)/)
    const overridden = await runCli(['serve'], { LOG_LEVEL: 'verbose' }, dir)
    assert.match(overridden.stderr, /\(got "verbose"\)/)
    const missing = await runCli(['serve', '--dotenv', 'nope.env'], {}, dir)
    assert.match(missing.stderr, /nope\.env does not exist/)
  })

  it('creates users from the command line, generating the keys of a new data folder once', async () => {
    const dataDir = await freshDataDir()
    const env = { LLMBASE_DATA_DIR: dataDir }
    const first = await runCli(['users', 'create', 'alice', '--email', 'alice@example.org', '--name', 'Alice', '--admin'], env)
    assert.equal(first.code, 0, first.stderr)
    const adminKey = readFileSync(join(dataDir, 'admin.key'), 'utf8').trim()
    const encryptionKey = readFileSync(join(dataDir, 'encryption.key'), 'utf8').trim()
    assert.ok(adminKey.length >= 32 && encryptionKey.length >= 32)
    for (const secret of [adminKey, encryptionKey]) {
      assert.ok(!first.stdout.includes(secret) && !first.stderr.includes(secret), 'without a terminal, generated secrets are not printed')
    }
    assert.ok(first.stderr.includes(join(dataDir, 'admin.key')), 'the log names the file that holds the admin key')
    assert.match(first.stderr, /back up the encryption key/)
    for (const file of ['admin.key', 'encryption.key']) assert.equal(statSync(join(dataDir, file)).mode & 0o777, 0o600, file)
    assert.equal(statSync(dataDir).mode & 0o777, 0o700)
    const aliceKey = /API key \(shown only once\): (llmb_\S+)/.exec(first.stdout)?.[1]
    assert.ok(aliceKey)

    const second = await runCli(['users', 'create', 'bob', '--email', 'bob@example.org'], env)
    assert.equal(second.code, 0, second.stderr)
    assert.ok(!second.stderr.includes('admin.key'), 'secrets are announced only when they are generated')

    const duplicate = await runCli(['users', 'create', 'ALICE', '--email', 'other@example.org'], env)
    assert.equal(duplicate.code, 1)
    assert.match(duplicate.stderr, /user alice already exists/)
    const bad = await runCli(['users', 'create', 'admin', '--email', 'not-an-email'], env)
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /email must be an email address/)
    const reserved = await runCli(['users', 'create', 'public', '--email', 'p@example.org'], env)
    assert.equal(reserved.code, 1)
    assert.match(reserved.stderr, /reserved/)

    const server = await spawnServer(env)
    try {
      const request = requester(server.url, aliceKey)
      const self = await request('GET', '/v1/users/alice')
      assert.equal(self.status, 200)
      assert.equal(self.body.role, 'admin')
      assert.equal((await request('GET', '/v1/users')).status, 200, 'an admin user may list users')
      assert.equal((await requester(server.url, adminKey)('GET', '/v1/users/bob')).status, 200, 'the stored admin key works')
      assert.ok(!server.output().includes('LLMBASE_ADMIN_KEY='))
    } finally {
      killGroup(server, 'SIGTERM')
      await server.exited
    }

    const status = await runCli(['migrate', 'status'], env)
    assert.equal(status.code, 0, status.stderr)
    assert.match(status.stdout, /0001_identity\s+applied \d{4}-/)
  })

  it('never writes a generated secret to the log stream, from the first start on', async () => {
    const dataDir = await freshDataDir()
    const server = await spawnServer({ LLMBASE_DATA_DIR: dataDir, LOG_LEVEL: 'trace' })
    try {
      const adminKey = readFileSync(join(dataDir, 'admin.key'), 'utf8').trim()
      const encryptionKey = readFileSync(join(dataDir, 'encryption.key'), 'utf8').trim()
      const request = requester(server.url, adminKey)
      const created = await request('PUT', '/v1/users/carol', { body: { user_handle: 'carol', email: 'carol@example.org' } })
      assert.equal(created.status, 201)
      const carol = requester(server.url, created.body.vdb_key)
      await carol('PUT', '/v1/llm-instances/carol/emb', { body: { endpoint: 'https://api.openai.com/v1/embeddings', model: 'm', dimensions: 3, api_key: 'sk-carol-provider-secret-123' } })
      await carol('GET', '/v1/users/carol', { headers: { 'x-api-key': created.body.vdb_key } })
      const everything = server.output() + server.errors()
      for (const secret of [adminKey, encryptionKey, created.body.vdb_key, 'sk-carol-provider-secret-123']) {
        assert.ok(!everything.includes(secret), `a secret (${secret.slice(0, 8)}…) is in the output`)
      }
      const announcement = server.output().split('\n').filter(Boolean).map((line) => JSON.parse(line)).find((line) => line.generated)
      assert.deepEqual(announcement?.generated.map((entry: { name: string }) => entry.name), ['LLMBASE_ADMIN_KEY', 'ENCRYPTION_KEY'])
      assert.equal(announcement.generated[0].file, join(dataDir, 'admin.key'))
    } finally {
      killGroup(server, 'SIGTERM')
      await server.exited
    }
  })

  it('restarts on an existing data folder and finishes in-flight requests on SIGTERM', async () => {
    const dataDir = await freshDataDir()
    const adminKey = 'shutdown-test-admin-key-0123456789abcdef'
    const env = { LLMBASE_DATA_DIR: dataDir, LLMBASE_ADMIN_KEY: adminKey }
    const warmup = await spawnServer(env)
    killGroup(warmup, 'SIGTERM')
    assert.equal(await warmup.exited, 0)

    const server = await spawnServer(env)
    try {
      // How fast it starts is measured by `npm run bench -- startup`, not asserted here.
      // A request whose body arrives slowly is in flight when SIGTERM comes.
      const body = JSON.stringify({ user_handle: 'slow', email: 'slow@example.org' })
      const { port } = new URL(server.url)
      const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = httpRequest(
          { port, method: 'PUT', path: '/v1/users/slow', headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
          (res) => {
            let text = ''
            res.on('data', (chunk) => (text += chunk))
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
          },
        )
        req.on('error', reject)
        req.write(body.slice(0, 10))
        setTimeout(() => req.end(body.slice(10)), 1_000)
      })
      await sleep(300)
      killGroup(server, 'SIGTERM')
      await sleep(200)
      await assert.rejects(fetch(`${server.url}/healthz`), 'no new connections are accepted while shutting down')
      const finished = await response
      assert.equal(finished.status, 201, finished.text)
      assert.equal(await server.exited, 0)
      assert.match(server.output(), /"shutting down: finishing in-flight requests"/)
      assert.match(server.output(), /"msg":"stopped"/)
    } finally {
      killGroup(server)
    }

    const again = await spawnServer(env)
    try {
      assert.equal((await requester(again.url, adminKey)('GET', '/v1/users/slow')).status, 200, 'the in-flight write was committed')
    } finally {
      killGroup(again, 'SIGTERM')
      await again.exited
    }
  })
})
