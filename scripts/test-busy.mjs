// Runs the test suite on a busy machine: two processes (or --busy N) spin on the CPUs for the
// whole run, so that a test which depends on wall-clock speed fails here rather than in CI.
// `npm run test:busy` runs the suite three times in a row (--runs N) and stops at the first
// failure; arguments after `--` go to the suite (`npm run test:busy -- --runs 1 -- test/jobs`).
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = fileURLToPath(new URL('..', import.meta.url))
const { values, positionals } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, busy: { type: 'string', default: '2' } },
  allowPositionals: true,
})
const runs = Number(values.runs)
const busy = Number(values.busy)
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(busy) || busy < 0) {
  console.error('usage: test-busy.mjs [--runs N] [--busy N] [test files or folders]')
  process.exit(2)
}

const spinners = Array.from({ length: busy }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }))
const stopSpinners = () => spinners.forEach((child) => child.kill('SIGKILL'))
process.on('exit', stopSpinners)
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130))

const results = []
for (let run = 1; run <= runs; run++) {
  console.log(`\n=== run ${run} of ${runs}, with ${busy} busy loop(s) on ${process.env.TEST_DATABASE_URL ? 'both databases' : 'the embedded database'} ===`)
  const started = Date.now()
  const { status } = spawnSync(process.execPath, ['scripts/test.mjs', ...positionals], { cwd: root, stdio: 'inherit', env: process.env })
  results.push({ run, status, seconds: Math.round((Date.now() - started) / 1000) })
  if (status !== 0) break
}
stopSpinners()
console.log('\n' + results.map((r) => `run ${r.run}: ${r.status === 0 ? 'passed' : `failed (exit ${r.status})`} in ${r.seconds} s`).join('\n'))
process.exit(results.length === runs && results.every((r) => r.status === 0) ? 0 : 1)
