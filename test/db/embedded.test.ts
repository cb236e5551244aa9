import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { killGroup, runCli, spawnServer } from '../helpers/cli.js'
import { requester, startTestServer } from '../helpers/server.js'
import { embeddedDataDirs } from '../helpers/databases.js'

describe('the embedded database', () => {
  const dataDirs = embeddedDataDirs()
  after(() => dataDirs.cleanup())
  const freshDataDir = dataDirs.fresh

  it('keeps answering /healthz while a query keeps the database busy for seconds', async () => {
    const server = await startTestServer('embedded')
    try {
      let queryDone = false
      // Busy for three seconds of the database's own clock, however fast or loaded the machine.
      const longQuery = server.running.database.pool
        .query("with recursive t(n) as (select 1 union all select n + 1 from t where clock_timestamp() < statement_timestamp() + interval '3 seconds') select count(*) from t")
        .finally(() => (queryDone = true))
      let answeredDuringQuery = 0
      while (!queryDone) {
        const response = await fetch(`${server.url}/healthz`)
        assert.equal(response.status, 200)
        await response.text()
        if (!queryDone) answeredDuringQuery++
        await sleep(20)
      }
      await longQuery
      // A server frozen by the query would answer once, when it ends; this one keeps answering.
      assert.ok(answeredDuringQuery >= 10, `/healthz answered ${answeredDuringQuery} times while the query ran`)
    } finally {
      await server.close()
    }
  })

  it('loses no committed write when the server and its database are killed with SIGKILL', async () => {
    const dataDir = await freshDataDir()
    const adminKey = `kill-test-admin-${randomBytes(16).toString('hex')}`
    const env = { LLMBASE_DATA_DIR: dataDir, LLMBASE_ADMIN_KEY: adminKey, LOG_LEVEL: 'warn' }
    const first = await spawnServer(env)
    const request = requester(first.url, adminKey)
    const acknowledged: string[] = []
    let stop = false
    const writer = async (worker: number) => {
      for (let i = 0; !stop; i++) {
        const handle = `w${worker}-${i}`
        try {
          const response = await request('PUT', `/v1/users/${handle}`, { body: { user_handle: handle, email: `${handle}@example.org` } })
          if (response.status === 201) acknowledged.push(handle)
        } catch {
          return // the server is gone
        }
      }
    }
    const writers = [1, 2, 3, 4].map(writer)
    await sleep(2_000)
    killGroup(first, 'SIGKILL')
    stop = true
    await Promise.all(writers)
    await first.exited
    assert.ok(acknowledged.length > 20, `only ${acknowledged.length} writes were acknowledged before the kill`)
    assert.ok(existsSync(join(dataDir, 'llmbase.pid')), 'the kill left the lock file behind')

    const second = await spawnServer(env)
    try {
      const again = requester(second.url, adminKey)
      const handles = new Set<string>()
      for (let offset = 0; ; offset += 200) {
        const page = await again('GET', `/v1/users?limit=200&offset=${offset}`)
        assert.equal(page.status, 200)
        if (page.body.length === 0) break
        for (const handle of page.body) handles.add(handle)
      }
      const lost = acknowledged.filter((h) => !handles.has(h))
      assert.deepEqual(lost, [], 'every acknowledged write survives')
      const ready = await again('GET', '/readyz')
      assert.equal(ready.status, 200)
    } finally {
      killGroup(second, 'SIGTERM')
      await second.exited
    }
  })

  it('refuses to open a data folder that another process is using', async () => {
    const dataDir = await freshDataDir()
    const env = { LLMBASE_DATA_DIR: dataDir, LLMBASE_ADMIN_KEY: 'x'.repeat(40) }
    const server = await spawnServer(env)
    try {
      const second = await runCli(['migrate', 'status'], env)
      assert.equal(second.code, 1)
      assert.match(second.stderr, new RegExp(`is in use by process ${server.child.pid}\\b`), 'names the server, not its database process')
      const health = await fetch(`${server.url}/healthz`)
      assert.equal(health.status, 200, 'the first server is unaffected')
    } finally {
      killGroup(server, 'SIGTERM')
      assert.equal(await server.exited, 0)
    }
    assert.ok(!existsSync(join(dataDir, 'llmbase.pid')), 'a clean stop releases the folder')
  })
})
