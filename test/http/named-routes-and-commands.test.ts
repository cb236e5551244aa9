import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ROOT, runCli } from '../helpers/cli.js'
import { startTestServer, type TestServer } from '../helpers/server.js'

/**
 * Every route and command that an error message, a log line, a comment or a guide tells a user
 * to call exists: a hint that names `llmbase keys create` when there is no such command sends
 * the user nowhere. Routes are checked against the server's own /openapi.json, commands against
 * the CLI's own --help.
 */

const files = (dir: string, ext: string): string[] =>
  readdirSync(join(ROOT, dir)).sort().flatMap((entry) => {
    const path = join(dir, entry)
    return statSync(join(ROOT, path)).isDirectory() ? files(path, ext) : path.endsWith(ext) ? [path] : []
  })

const SOURCES = files('src', '.ts')
const GUIDES = ['README.md', ...files('docs', '.md')]
const text = (path: string) => readFileSync(join(ROOT, path), 'utf8')

interface Mention {
  where: string
  what: string
}

// ---- routes --------------------------------------------------------------------------------

const METHOD_AND_PATH = /\b(GET|POST|PUT|PATCH|DELETE) (\/v1\/[^\s`'"|)\]]*)/g

/** The path as a list of segments, `*` where the text has a placeholder (`{user}`, `${x}`, `:id`, `…`). */
function segments(path: string): string[] {
  const bare = path
    .replace(/\$\{[^}]*\}/g, '*') // a template literal's value
    .split(/[?#]/)[0]!
    .replace(/[.,:;]+$/, '')
  return bare.split('/').filter(Boolean).map((segment) => (/^\{.*\}$|^:|^\*$|…|\.\.\./.test(segment) ? '*' : segment))
}

function routeMentions(paths: string[]): Mention[] {
  const found: Mention[] = []
  for (const path of paths) {
    text(path).split('\n').forEach((line, index) => {
      for (const match of line.matchAll(METHOD_AND_PATH)) found.push({ where: `${path}:${index + 1}`, what: `${match[1]} ${match[2]}` })
    })
  }
  return found
}

// ---- commands ------------------------------------------------------------------------------

/** Log lines that begin with the word llmbase and are quoted as such, not commands. */
const NOT_COMMANDS = new Set(['is listening'])

function commandMentions(): Mention[] {
  const found: Mention[] = []
  const add = (where: string, words: string) => {
    const what = words.trim()
    if (!NOT_COMMANDS.has(what)) found.push({ where, what })
  }
  for (const path of SOURCES) {
    text(path).split('\n').forEach((line, index) => {
      // `llmbase x y` quoted, or "run llmbase x y" / "(llmbase x y)" in a message.
      // A quoted command is the whole quote (with its options), which a template literal that
      // begins with the word llmbase is not.
      for (const m of line.matchAll(/`llmbase ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)*)(?: [-<][^`$]*)?`/g)) add(`${path}:${index + 1}`, m[1]!)
      for (const m of line.matchAll(/\brun llmbase ([a-z][a-z-]*(?: [a-z][a-z-]*)?)|\(llmbase ([a-z][a-z-]*(?: [a-z][a-z-]*)?)\)/g)) add(`${path}:${index + 1}`, (m[1] ?? m[2])!)
    })
  }
  for (const path of GUIDES) {
    let fenced = false
    text(path).split('\n').forEach((line, index) => {
      if (/^\s*```/.test(line)) fenced = !fenced
      const where = `${path}:${index + 1}`
      if (fenced) {
        const m = /^\s*(?:\$ )?(?:npx |npm run llmbase -- )?llmbase ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)*)/.exec(line)
        if (m) add(where, m[1]!)
      } else {
        for (const m of line.matchAll(/`(?:npx )?llmbase ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)*)/g)) add(where, m[1]!)
      }
    })
  }
  return found
}

/** The CLI's commands as a tree, read from `--help` of each command that has subcommands. */
type CommandTree = Map<string, CommandTree>

async function commandTree(path: string[] = []): Promise<CommandTree> {
  const { code, stdout } = await runCli([...path, '--help'])
  assert.equal(code, 0, `llmbase ${path.join(' ')} --help`)
  const section = stdout.split(/^Commands:$/m)[1] ?? ''
  const names = [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]!).filter((name) => name !== 'help')
  const tree: CommandTree = new Map()
  await Promise.all(names.map(async (name) => tree.set(name, await commandTree([...path, name]))))
  return tree
}

/** Whether `words` start with a command: every word names a subcommand until one has none (the rest are its arguments). */
function isCommand(tree: CommandTree, words: string[]): boolean {
  const [first, ...rest] = words
  if (first === undefined) return tree.size === 0
  const sub = tree.get(first)
  if (!sub) return false
  return sub.size === 0 || rest.length === 0 || isCommand(sub, rest)
}

describe('routes and commands named in messages and guides', () => {
  let server: TestServer
  let operations: Array<{ method: string; segments: string[] }>
  let tree: CommandTree
  before(async () => {
    ;[server, tree] = await Promise.all([startTestServer('embedded'), commandTree()])
    const spec = (await server.request('GET', '/openapi.json')).body as { paths: Record<string, Record<string, unknown>> }
    operations = Object.entries(spec.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => ({ method: method.toUpperCase(), segments: segments(path) })))
  })
  after(async () => server?.close())

  const exists = (mention: string) => {
    const [method, path] = mention.split(' ') as [string, string]
    const wanted = segments(path)
    // A path that ends in … names every route below it (`POST /v1/similars/…`).
    const open = /(…|\.\.\.)$/.test(path)
    return operations.some((op) => op.method === method && (open ? op.segments.length >= wanted.length : op.segments.length === wanted.length) &&
      wanted.every((segment, i) => segment === '*' || op.segments[i] === '*' || segment === op.segments[i]))
  }

  it('finds the routes that error messages and log lines name, and each one exists', () => {
    const mentions = routeMentions(SOURCES)
    assert.ok(mentions.length >= 20, `found ${mentions.length}`)
    assert.deepEqual(mentions.filter((m) => !exists(m.what)), [])
  })

  it('finds the routes that the guides name, and each one exists', () => {
    const mentions = routeMentions(GUIDES)
    assert.ok(mentions.length >= 80, `found ${mentions.length}`)
    assert.deepEqual(mentions.filter((m) => !exists(m.what)), [])
  })

  it('finds the commands that messages and guides name, and each one exists', async () => {
    assert.ok(tree.has('serve') && tree.get('keys')?.has('check'), 'the tree is read from --help')
    const mentions = commandMentions()
    assert.ok(mentions.length >= 30, `found ${mentions.length}`)
    assert.deepEqual(mentions.filter((m) => !isCommand(tree, m.what.split(' '))), [])
  })

  it('would notice a command or a route that does not exist', () => {
    assert.equal(isCommand(tree, ['keys', 'create']), false)
    assert.equal(isCommand(tree, ['users', 'create', 'alice']), true)
    assert.equal(exists('POST /v1/users/{user}/keys'), true)
    assert.equal(exists('POST /v1/users/{user}/tokens'), false)
    assert.equal(exists('POST /v1/similars/…'), true)
    assert.equal(exists('POST /v1/similar/…'), false)
  })
})
