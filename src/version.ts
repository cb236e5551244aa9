import { readFileSync } from 'node:fs'

/** llmbase's version, from its package.json (one place to change it: `npm version`). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version
