// `npm run bench -- <name> [args]` runs bench/<name>.ts. Benchmarks print figures; they never
// pass or fail. `npm run bench` alone lists them.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const [name, ...args] = process.argv.slice(2)
const available = readdirSync(`${root}/bench`).filter((f) => f.endsWith('.ts') && !f.startsWith('_')).map((f) => f.slice(0, -3))
if (!name || !existsSync(`${root}/bench/${name}.ts`)) {
  console.log(`usage: npm run bench -- <${available.join('|')}> [options]`)
  process.exit(name ? 1 : 0)
}
const result = spawnSync(process.execPath, ['--import', 'tsx', `bench/${name}.ts`, ...args], { cwd: root, stdio: 'inherit' })
process.exit(result.status ?? 1)
