import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { PGlite } from '@electric-sql/pglite'
import { buildTemplate, seedFromTemplate } from '../../src/db/embedded/template.js'

describe('the empty cluster a new data folder starts from', () => {
  let root: string
  let template: string
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'llmbase-template-test-'))
    template = await buildTemplate(join(root, 'template'))
  })
  after(() => rmSync(root, { recursive: true, force: true }))

  it('is copied into a folder that has no cluster, which PGlite then opens and writes to', async () => {
    const target = join(root, 'new', 'pgdata')
    mkdirSync(join(root, 'new'))
    assert.equal(seedFromTemplate(target, template), true)
    assert.ok(existsSync(join(target, 'PG_VERSION')))
    assert.ok(!existsSync(join(target, '.pglite-version')), 'the marker stays in the template')
    assert.ok(!existsSync(`${target}.copying`))
    const db = await PGlite.create({ dataDir: target })
    await db.exec('create table t (x int); insert into t values (1)')
    assert.deepEqual((await db.query('select x from t')).rows, [{ x: 1 }])
    await db.close()
    assert.equal(seedFromTemplate(target, template), false, 'a cluster is never replaced')
    const reopened = await PGlite.create({ dataDir: target })
    assert.deepEqual((await reopened.query('select x from t')).rows, [{ x: 1 }])
    await reopened.close()
  })

  it('leaves alone a folder with anything in it, and a template of another PGlite version', () => {
    const busy = join(root, 'busy')
    mkdirSync(busy)
    writeFileSync(join(busy, 'something'), 'x')
    assert.equal(seedFromTemplate(busy, template), false)
    assert.deepEqual(readdirSync(busy), ['something'])
    const old = join(root, 'old-template')
    mkdirSync(old)
    writeFileSync(join(old, '.pglite-version'), '0.0.1')
    assert.equal(seedFromTemplate(join(root, 'other'), old), false)
    assert.equal(seedFromTemplate(join(root, 'none'), join(root, 'missing')), false)
    assert.ok(!existsSync(join(root, 'other')) && !existsSync(join(root, 'none')))
  })
})
