import { type ChildProcess, fork } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import { DataFolderInUseError, ensureDataDir } from '../../data-folder.js'
import type { ChildMessage, ParentMessage } from './protocol.js'

export interface EmbeddedPostgres {
  /** Directory holding the Unix socket; `pg` connects with `host` set to it. */
  readonly socketDir: string
  readonly version: string
  /** Start-up steps in ms: `spawn_to_ready` as the server saw it, and the child's own steps. */
  readonly startupMs: Record<string, number>
  /** Emits `exit` (code) when the database process ends without being asked to. */
  readonly events: EventEmitter
  stop(): Promise<void>
}

const STOP_TIMEOUT_MS = 30_000

/**
 * Starts the embedded database process on `dataDir` and waits until it accepts connections.
 * The socket lives in a fresh private directory under the system temp folder because Unix
 * socket paths are limited to 107 bytes, which a deep data folder path would exceed.
 */
export async function startEmbeddedPostgres(options: { dataDir: string; logger: Logger }): Promise<EmbeddedPostgres> {
  const { dataDir, logger } = options
  ensureDataDir(dataDir)
  const socketDir = mkdtempSync(join(tmpdir(), 'llmbase-'))
  const spawnedAt = performance.now()
  const child = fork(childScript(), [JSON.stringify({ dataDir, socketDir })], {
    execArgv: loaderArgs(process.execArgv),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'json',
  })
  forwardOutput(child, logger)

  const events = new EventEmitter()
  let stopping = false
  let ready: Extract<ChildMessage, { type: 'ready' }>
  try {
    ready = await new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the embedded database process exited during start-up (code ${code})`)))
      child.on('message', (message: ChildMessage) => {
        if (message.type === 'ready') resolve(message)
        if (message.type === 'failed') {
          const pid = /process (\d+)/.exec(message.message)?.[1]
          reject(message.name === 'DataFolderInUseError' && pid ? new DataFolderInUseError(dataDir, Number(pid)) : new Error(message.message))
        }
      })
    })
  } catch (error) {
    child.kill('SIGKILL')
    rmSync(socketDir, { recursive: true, force: true })
    throw error
  }
  child.removeAllListeners('exit')
  child.on('exit', (code, signal) => {
    rmSync(socketDir, { recursive: true, force: true })
    if (!stopping) {
      logger.error({ code, signal }, 'the embedded database process ended unexpectedly')
      events.emit('exit', code)
    }
  })

  return {
    socketDir,
    version: ready.version,
    startupMs: { spawn_to_ready: Math.round(performance.now() - spawnedAt), ...prefixed('child_', ready.startupMs) },
    events,
    async stop() {
      if (stopping || child.exitCode !== null) return
      stopping = true
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.send({ type: 'close' } satisfies ParentMessage)
      const timer = setTimeout(() => {
        logger.error('the embedded database did not stop in time; killing it (WAL recovery runs on next start)')
        child.kill('SIGKILL')
      }, STOP_TIMEOUT_MS)
      await exited
      clearTimeout(timer)
    },
  }
}

const prefixed = (prefix: string, values: Record<string, number>) => Object.fromEntries(Object.entries(values).map(([k, v]) => [prefix + k, v]))

/** The child script next to this module: `.ts` when running from source, `.js` when built. */
function childScript(): string {
  const self = fileURLToPath(import.meta.url)
  return join(self, '..', `child${self.endsWith('.ts') ? '.ts' : '.js'}`)
}

/**
 * Keeps only the module-loader flags of the parent (for example tsx's `--import`), so the
 * child runs the same way the parent does, without inheriting flags such as `--test`.
 */
function loaderArgs(execArgv: string[]): string[] {
  const kept: string[] = []
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i] as string
    if (/^--(import|require|loader|experimental-loader)$/.test(arg) || arg === '-r') {
      kept.push(arg, execArgv[++i] as string)
    } else if (/^--(import|require|loader|experimental-loader)=/.test(arg) || arg === '--enable-source-maps') {
      kept.push(arg)
    }
  }
  return kept
}

/** PostgreSQL's own messages (recovery, warnings) go to our structured log, not the terminal. */
function forwardOutput(child: ChildProcess, logger: Logger) {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue
    createInterface({ input: stream }).on('line', (line) => {
      if (line.trim()) logger.debug({ source: 'embedded-postgres' }, line)
    })
  }
}

/**
 * Starts the embedded database's process at once when `databaseUrl` is unset, for a command to
 * hand to startServer or startWorkerProcess: the process opens its folder (0.4–0.6 s for an
 * existing one) while the command loads the server's code, on another core. This module loads
 * little, so that the start comes first. Undefined for a server URL.
 */
export function startEmbeddedEarly(config: { databaseUrl?: string | undefined; dataDir: string }, logger: Logger): Promise<EmbeddedPostgres> | undefined {
  if (config.databaseUrl) return undefined
  const starting = startEmbeddedPostgres({ dataDir: config.dataDir, logger })
  starting.catch(() => {}) // awaited later by openDatabase; not unhandled meanwhile
  return starting
}
