import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { ConfigError, loadConfig, parseByteSize } from '../../src/config.js'

describe('configuration', () => {
  const emptyDir = mkdtempSync(join(tmpdir(), 'llmbase-config-'))

  it('has the documented defaults', () => {
    const config = loadConfig({ env: {}, cwd: emptyDir })
    assert.equal(config.port, 8880)
    assert.equal(config.host, '127.0.0.1')
    assert.equal(config.databaseUrl, undefined)
    assert.equal(config.dataDir, join(emptyDir, 'data'))
    assert.equal(config.logLevel, 'info')
    assert.deepEqual(config.corsOrigins, [])
    assert.equal(config.bodyLimit, 32 * 1024 * 1024)
    assert.equal(config.shutdownTimeoutMs, 10_000)
    assert.equal(config.dbPoolSize, 10)
    assert.equal(config.vectors.engine, 'auto')
    assert.equal(config.vectors.nativeBuildThreads, 0)
    assert.equal(config.vectors.nativeSaveDelayMs, 30_000)
  })

  it('takes a vector engine by name and refuses an unknown one', () => {
    assert.equal(loadConfig({ env: { LLMBASE_VECTOR_ENGINE: 'Native' }, cwd: emptyDir }).vectors.engine, 'native')
    assert.throws(() => loadConfig({ env: { LLMBASE_VECTOR_ENGINE: 'faiss' }, cwd: emptyDir }), (error: Error) => {
      assert.ok(error instanceof ConfigError)
      assert.match(error.message, /LLMBASE_VECTOR_ENGINE must be one of auto, pgvector, native \(got "faiss"\)/)
      return true
    })
  })

  it('takes flags over the environment over the .env file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmbase-config-'))
    writeFileSync(join(dir, '.env'), 'PORT=1111\nHOST=0.0.0.0\nLOG_LEVEL=debug\n')
    const fromFile = loadConfig({ env: {}, cwd: dir })
    assert.deepEqual([fromFile.port, fromFile.host, fromFile.logLevel], [1111, '0.0.0.0', 'debug'])
    const fromEnv = loadConfig({ env: { PORT: '2222' }, cwd: dir })
    assert.deepEqual([fromEnv.port, fromEnv.host], [2222, '0.0.0.0'])
    const fromFlags = loadConfig({ env: { PORT: '2222' }, flags: { port: '3333', logLevel: 'warn' }, cwd: dir })
    assert.deepEqual([fromFlags.port, fromFlags.logLevel], [3333, 'warn'])
  })

  it('parses sizes with units', () => {
    const problems: string[] = []
    assert.equal(parseByteSize('32MiB', 'X', problems), 33_554_432)
    assert.equal(parseByteSize('10mb', 'X', problems), 10_000_000)
    assert.equal(parseByteSize('4096', 'X', problems), 4096)
    assert.equal(parseByteSize('1.5KiB', 'X', problems), 1536)
    assert.deepEqual(problems, [])
    parseByteSize('12 parsecs', 'X', problems)
    parseByteSize('10', 'X', problems)
    assert.equal(problems.length, 2)
  })

  it('collects every problem into one error', () => {
    try {
      loadConfig({ env: { PORT: '70000', LLMBASE_ADMIN_KEY: 'short', ENCRYPTION_KEY: 'short', LLMBASE_DB_POOL_SIZE: '0', DATABASE_URL: 'mysql://x' }, cwd: emptyDir })
      assert.fail('expected a ConfigError')
    } catch (error) {
      assert.ok(error instanceof ConfigError)
      assert.equal(error.problems.length, 5)
    }
  })

  it('accepts "*" or full origins for CORS', () => {
    assert.deepEqual(loadConfig({ env: { CORS_ORIGINS: '*' }, cwd: emptyDir }).corsOrigins, ['*'])
    assert.deepEqual(loadConfig({ env: { CORS_ORIGINS: 'https://a.example, http://localhost:5173' }, cwd: emptyDir }).corsOrigins, [
      'https://a.example',
      'http://localhost:5173',
    ])
  })
})
