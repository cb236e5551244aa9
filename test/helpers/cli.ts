import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/** The repository root, and the CLI run from source exactly as `npm run dev` runs it. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
// Absolute, so that a command can run in any working directory (to test `.env` lookup).
const CLI = ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli.ts')]

/** Only what a command needs: no developer settings leak in from the test runner's environment. */
function baseEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, ...env }
}

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Runs `llmbase <args>` to completion (killing it after a minute, so that a command that
 * should have failed but serves instead cannot hang the suite).
 */
export function runCli(args: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { cwd, env: baseEnv(env), timeout: 60_000 })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

export interface ServerProcess {
  child: ChildProcess
  url: string
  /** Everything written to stdout so far (the JSON log). */
  output(): string
  /** Everything written to stderr so far. */
  errors(): string
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number | null>
  /** Milliseconds from spawn to the "listening" log line. */
  startupMs: number
}

/**
 * Starts `llmbase serve` as its own process (in its own process group, so that a test can
 * kill the server and its database process together) and waits until it listens.
 */
export async function spawnServer(env: Record<string, string>, options: { timeoutMs?: number; args?: string[] } = {}): Promise<ServerProcess> {
  return spawnCli(['serve', ...(options.args ?? [])], env, '"llmbase is listening"', options.timeoutMs)
}

/** Starts `llmbase worker` as its own process and waits until its workers run (`url` is empty). */
export async function spawnWorker(env: Record<string, string>, options: { timeoutMs?: number; args?: string[] } = {}): Promise<ServerProcess> {
  return spawnCli(['worker', ...(options.args ?? [])], env, '"job worker started"', options.timeoutMs)
}

async function spawnCli(args: string[], env: Record<string, string>, readyMessage: string, timeoutMs = 30_000): Promise<ServerProcess> {
  const started = performance.now()
  const child = spawn(process.execPath, [...CLI, ...args], {
    cwd: ROOT,
    env: baseEnv({ PORT: '0', ...env, LOG_LEVEL: 'info' }),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  let errors = ''
  child.stderr?.on('data', (chunk) => (errors += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`llmbase ${args[0]} did not start in time:\n${output}\n${errors}`)), timeoutMs)
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output += `${line}\n`
      if (line.includes(readyMessage)) {
        clearTimeout(timer)
        resolve(JSON.parse(line).url ?? '')
      }
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`llmbase ${args[0]} exited with ${code} before it was ready:\n${output}\n${errors}`))
    })
  })
  return { child, url, output: () => output, errors: () => errors, exited, startupMs: performance.now() - started }
}

/** Kills the server and everything it started (its database process) at once. */
export function killGroup(server: ServerProcess, signal: NodeJS.Signals = 'SIGKILL') {
  try {
    process.kill(-(server.child.pid as number), signal)
  } catch {
    // Already gone.
  }
}
