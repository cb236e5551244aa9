/**
 * The embedded database process. It runs PGlite (PostgreSQL compiled to WebAssembly, with
 * pgvector) and serves it on a private Unix socket, so that:
 *  - a long query or an index build runs on this process's thread, never on the HTTP
 *    server's event loop (`/healthz` keeps answering), and
 *  - the server talks to it with the ordinary `pg` driver, the same code path as for a
 *    PostgreSQL server.
 * PGlite is a single backend: the parent connects with one connection, and this process
 * accepts a second only to survive a reconnect race.
 */
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { vector } from '@electric-sql/pglite-pgvector'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'
import { embeddedDatabaseDir, lockDataDir } from '../../data-folder.js'
import { stepClock } from '../../step-clock.js'
import type { ChildMessage, ParentMessage } from './protocol.js'
import { seedFromTemplate } from './template.js'

const { dataDir, socketDir } = JSON.parse(process.argv[2] ?? '{}') as { dataDir: string; socketDir: string }
const send = (message: ChildMessage) => process.send?.(message)

// A terminal's Ctrl-C reaches the whole process group. The parent decides when the database
// stops, so that it can finish in-flight requests first.
process.on('SIGINT', () => {})
process.on('SIGTERM', () => {})

let releaseLock: (() => void) | undefined
let db: PGlite | undefined
let server: PGLiteSocketServer | undefined
let closing: Promise<void> | undefined

function close(exitCode: number): Promise<void> {
  closing ??= (async () => {
    try {
      await server?.stop()
      // close() shuts PostgreSQL down cleanly (checkpoint), so the next start needs no recovery.
      if (db && !db.closed) await db.close()
    } finally {
      releaseLock?.()
      process.exit(exitCode)
    }
  })()
  return closing
}

// The parent went away (including kill -9): stop cleanly rather than hold the folder.
process.on('disconnect', () => void close(0))
process.on('message', (message: ParentMessage) => {
  if (message.type === 'close') void close(0)
})

try {
  // Milliseconds per step, for the server's start-up timings; `process` counts from this
  // process's start (Node, then loading PGlite's JavaScript) to here.
  const clock = stepClock({ fromProcessStart: true })
  const mark = clock.mark
  releaseLock = await lockDataDir(dataDir, { ownerPid: process.ppid })
  mark('lock')
  if (seedFromTemplate(embeddedDatabaseDir(dataDir))) mark('template')
  db = await PGlite.create({ dataDir: embeddedDatabaseDir(dataDir), extensions: { vector } })
  mark('pglite')
  server = new PGLiteSocketServer({ db, path: join(socketDir, '.s.PGSQL.5432'), maxConnections: 2 })
  await server.start()
  const version = await db.query<{ version: string }>('select version() as version')
  mark('socket')
  send({ type: 'ready', version: version.rows[0]?.version ?? 'unknown', startupMs: clock.steps })
} catch (error) {
  send({ type: 'failed', name: (error as Error).name, message: (error as Error).message })
  await close(1)
}
