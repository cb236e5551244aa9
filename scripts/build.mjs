// Compiles src/ to dist/ and copies the SQL migrations beside the compiled code,
// because tsc only emits JavaScript; then makes the empty embedded cluster that a new data
// folder starts from (src/db/embedded/template.ts). Runs on `npm ci` (prepare) and `npm run build`.
import { execFileSync } from 'node:child_process'
import { cpSync, rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
rmSync(`${root}/dist`, { recursive: true, force: true })
execFileSync(process.execPath, [`${root}/node_modules/typescript/bin/tsc`, '-p', `${root}/tsconfig.build.json`], { stdio: 'inherit' })
cpSync(`${root}/src/db/migrations`, `${root}/dist/db/migrations`, { recursive: true })
const { buildTemplate } = await import(`${root}/dist/db/embedded/template.js`)
await buildTemplate()
