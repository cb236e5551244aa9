// Runs the test suite: every test/**/*.test.ts file, two files at a time (each file starts its
// own servers and databases). `npm test -- test/identity` runs one folder or file.
// With TEST_DATABASE_URL set, the suites run on that PostgreSQL server too.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const findTests = (path) =>
  statSync(path).isDirectory()
    ? readdirSync(path).sort().flatMap((entry) => findTests(join(path, entry)))
    : path.endsWith('.test.ts') ? [path] : []

const targets = process.argv.slice(2)
const files = (targets.length ? targets : ['test']).flatMap((t) => findTests(join(root, t))).map((f) => relative(root, f))
if (files.length === 0) {
  console.error('no test files found')
  process.exit(1)
}

const node = (args) => spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: process.env })
const prepared = node(['--import', 'tsx', 'test/helpers/prepare-template.ts'])
if (prepared.status !== 0) process.exit(prepared.status ?? 1)

const concurrency = process.env.TEST_CONCURRENCY ?? '2'
const result = node([
  '--import', 'tsx',
  '--test',
  `--test-concurrency=${concurrency}`,
  '--test-reporter=spec',
  ...files,
])
process.exit(result.status ?? 1)
