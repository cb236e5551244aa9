import type { Logger } from 'pino'
import { randomBytes } from 'node:crypto'
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { Config } from './config.js'

/**
 * The data folder holds the embedded database (`pgdata/`), the lock of the process that owns
 * it, and the secrets generated on the embedded default's first start. It is private to the
 * user running llmbase (mode 0700; secret files 0600).
 */
export function ensureDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
}

export const embeddedDatabaseDir = (dataDir: string) => join(dataDir, 'pgdata')

export class DataFolderInUseError extends Error {
  constructor(readonly dataDir: string, readonly pid: number) {
    super(
      `The data folder ${dataDir} is in use by process ${pid}. The embedded database can be opened ` +
        'by one process at a time: stop that process (or use its HTTP API), or remove ' +
        `${join(dataDir, 'llmbase.pid')} if no such process runs.`,
    )
    this.name = 'DataFolderInUseError'
  }
}

/**
 * Takes the data folder for this process. The embedded database is a single PostgreSQL
 * backend; two processes writing one folder would corrupt it, so the second one must fail.
 * A lock left by a process that no longer runs (kill -9, power loss) is taken over. A holder
 * that is still exiting (a supervisor restarting us right after a kill) is waited for, up to
 * `waitMs`. Returns the function that releases the lock.
 */
/**
 * Takes the data folder's lock file, `llmbase.pid`. Its first line is the pid of the process
 * that holds the lock (the embedded database's process) and decides whether the lock is stale;
 * its second line, when given as `ownerPid`, is the process an operator knows (the server or
 * command that started it), which is the one a "data folder in use" message names.
 */
export async function lockDataDir(dataDir: string, options: { waitMs?: number; ownerPid?: number } = {}): Promise<() => void> {
  const lockFile = join(dataDir, 'llmbase.pid')
  const deadline = Date.now() + (options.waitMs ?? 5_000)
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600)
      writeSync(fd, options.ownerPid ? `${process.pid}\n${options.ownerPid}\n` : String(process.pid))
      closeSync(fd)
      return () => rmSync(lockFile, { force: true })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const [holder, owner] = readFileSync(lockFile, 'utf8').trim().split(/\s+/).map(Number) as [number, number | undefined]
    const held = Number.isInteger(holder) && holder > 0 && holder !== process.pid && isRunning(holder)
    if (!held) {
      rmSync(lockFile, { force: true })
      continue
    }
    if (Date.now() >= deadline) throw new DataFolderInUseError(dataDir, owner && Number.isInteger(owner) && owner > 0 ? owner : holder)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Whether a process runs; a zombie (dead, not yet reaped by its parent) does not. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return true // no /proc (macOS): trust kill(0)
  }
}

export interface ResolvedSecrets {
  adminKey: string
  encryptionKey: string
  /** The file the encryption key came from, when it was not configured. */
  encryptionKeyFile: string | null
  /**
   * A key left by a rotation that stopped between re-encrypting and replacing the key file
   * (`encryption.key.next`): it still decrypts, so nothing is lost in that window.
   */
  pendingEncryptionKeys: string[]
  /** Secrets created by this call, to be shown to the operator exactly once. */
  generated: Array<{ name: 'LLMBASE_ADMIN_KEY' | 'ENCRYPTION_KEY'; value: string; file: string }>
}

/**
 * Fills in the admin key and the encryption key. Configured values win. On the embedded
 * default (no DATABASE_URL) a missing key is read from the data folder, or generated there on
 * first start; with a PostgreSQL server both must be configured, because replicas sharing the
 * server must share the keys too.
 */
export function resolveSecrets(config: Config): ResolvedSecrets {
  const generated: ResolvedSecrets['generated'] = []
  const resolveOne = (name: 'LLMBASE_ADMIN_KEY' | 'ENCRYPTION_KEY', configured: string | undefined, file: string, prefix: string) => {
    if (configured !== undefined) return configured
    if (config.databaseUrl) {
      throw new Error(`${name} must be set (at least 32 characters) when DATABASE_URL is set`)
    }
    ensureDataDir(config.dataDir)
    const path = join(config.dataDir, file)
    const stored = readSecretFile(path)
    if (stored !== undefined) {
      if (stored.length < 32) throw new Error(`${path} holds a key shorter than 32 characters`)
      return stored
    }
    const value = prefix + generateSecret()
    const fd = openSync(path, 'wx', 0o600)
    writeSync(fd, `${value}\n`)
    closeSync(fd)
    chmodSync(path, 0o600)
    generated.push({ name, value, file: path })
    return value
  }
  const adminKey = resolveOne('LLMBASE_ADMIN_KEY', config.adminKey, 'admin.key', 'llmb_admin_')
  const encryptionKey = resolveOne('ENCRYPTION_KEY', config.encryptionKey, 'encryption.key', '')
  const encryptionKeyFile = config.encryptionKey === undefined ? join(config.dataDir, 'encryption.key') : null
  const pending = encryptionKeyFile ? readSecretFile(`${encryptionKeyFile}.next`) : undefined
  return { adminKey, encryptionKey, encryptionKeyFile, pendingEncryptionKeys: pending ? [pending] : [], generated }
}

/** A new random key in the format of generated keys. */
export const generateSecret = () => randomBytes(32).toString('base64url')

/** Writes a secret file (mode 0600) whole or not at all: to a temporary name, then renamed. */
export function writeSecretFile(path: string, value: string): void {
  const temporary = `${path}.tmp-${process.pid}`
  const fd = openSync(temporary, 'w', 0o600)
  writeSync(fd, `${value}\n`)
  fsyncSync(fd)
  closeSync(fd)
  renameSync(temporary, path)
}

function readSecretFile(path: string): string | undefined {
  try {
    const mode = statSync(path).mode & 0o777
    if (mode & 0o077) chmodSync(path, 0o600)
    return readFileSync(path, 'utf8').trim()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/**
 * Tells the operator about secrets generated on a first start, without putting them in the
 * log stream: a captured log (a file, journald, `docker logs`) must never hold the admin key
 * or the encryption key. On a terminal (stderr is a TTY) the values are shown once, on
 * stderr, which is not where the JSON log goes; otherwise only the files that hold them
 * (mode 0600) are named, in the log.
 */
export function announceGeneratedSecrets(
  generated: ResolvedSecrets['generated'],
  options: { logger: Pick<Logger, 'warn'>; terminal?: NodeJS.WriteStream },
): void {
  if (generated.length === 0) return
  const terminal = options.terminal ?? process.stderr
  if (terminal.isTTY) {
    terminal.write(describeGeneratedSecrets(generated))
    return
  }
  options.logger.warn(
    { generated: generated.map((secret) => ({ name: secret.name, file: secret.file })) },
    `generated ${generated.map((secret) => secret.name).join(' and ')}; the values are in the files named here (mode 0600), never in the log` +
      (generated.some((secret) => secret.name === 'ENCRYPTION_KEY') ? '; back up the encryption key' : ''),
  )
}

/** The text shown once on a terminal when secrets were generated. */
export function describeGeneratedSecrets(generated: ResolvedSecrets['generated']): string {
  const lines = ['', '================ llmbase: new secrets ================']
  for (const secret of generated) {
    lines.push(`${secret.name}=${secret.value}`, `  stored in ${secret.file} (mode 0600)`)
  }
  if (generated.some((s) => s.name === 'ENCRYPTION_KEY')) {
    lines.push(
      'Back up the encryption key: provider keys stored in llmbase cannot be decrypted without it.',
    )
  }
  lines.push('These values are printed only this once.', '======================================================', '')
  return lines.join('\n')
}
