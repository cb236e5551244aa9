import { readEnvFile } from '../config.js'

/**
 * The HTTP side of `llmbase jobs`: where the server is, which key to send, and errors a person
 * can act on (no stack traces, no raw JSON).
 */

export const DEFAULT_URL = 'http://127.0.0.1:8880'
const REQUEST_TIMEOUT_MS = 30_000

export interface ConnectionFlags {
  url?: string
  key?: string
  user?: string
  dotenv?: string
}

export interface Connection {
  url: string
  key: string
  user: string
}

/** A failure to show as it is: the main program prints `llmbase: <message>` and exits with 1. */
export class CliError extends Error {
  override name = 'CliError'
}

/** Flags first, then the environment, then `.env` (as for every other command). */
export function connect(flags: ConnectionFlags): Connection {
  const file = readEnvFile(flags.dotenv)
  const setting = (flag: string | undefined, name: string) => flag ?? process.env[name] ?? file[name]
  const url = (setting(flags.url, 'LLMBASE_URL') ?? DEFAULT_URL).replace(/\/+$/, '')
  const key = setting(flags.key, 'LLMBASE_API_KEY')
  const user = setting(flags.user, 'LLMBASE_USER')
  if (!/^https?:\/\/[^/]/.test(url)) throw new CliError(`--url must be an http:// or https:// URL (got "${url}")`)
  if (!key) throw new CliError('no API key: pass --key, or set LLMBASE_API_KEY')
  // The API has no "who am I" endpoint, and a key alone does not say whose jobs to list.
  if (!user) throw new CliError('no user: pass --user <handle> (the owner of the jobs), or set LLMBASE_USER')
  return { url, key, user }
}

/** Calls the server and returns the parsed JSON body of a 2xx answer; throws a CliError otherwise. */
export async function call<T>(connection: Connection, method: 'GET' | 'POST', path: string): Promise<T> {
  const target = connection.url + path
  let response: Response
  try {
    response = await fetch(target, {
      method,
      headers: { authorization: `Bearer ${connection.key}`, accept: 'application/json' },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    })
  } catch (error) {
    throw new CliError(`cannot reach the server at ${connection.url}: ${reason(error)} (is it running? set --url or LLMBASE_URL)`)
  }
  const text = await response.text()
  let body: unknown = null
  try {
    body = text ? JSON.parse(text) : null
  } catch {
    // Not JSON: a proxy's error page, or not llmbase at all; the status says enough.
  }
  if (response.ok) return body as T
  const detail = (body as { detail?: unknown } | null)?.detail
  const said = typeof detail === 'string' ? detail : `${response.status} ${response.statusText}`
  if (response.status === 401) throw new CliError(`the server refused the API key (401): ${said}`)
  if (response.status === 403) throw new CliError(`not allowed (403): ${said}`)
  if (response.status === 404) throw new CliError(`not found (404): ${said}`)
  throw new CliError(`the server answered ${response.status}: ${said}`)
}

function reason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause
  if (cause?.code) return cause.code
  if (error instanceof DOMException && error.name === 'TimeoutError') return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`
  return cause?.message ?? (error instanceof Error ? error.message : String(error))
}
