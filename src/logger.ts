import { type DestinationStream, type Logger, pino } from 'pino'
import type { LogLevel } from './config.js'

/**
 * Fields removed from every log line, wherever they appear. Values are replaced, not deleted,
 * so that a reader can tell a key was present.
 */
const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  '*.authorization',
  'api_key',
  '*.api_key',
  'vdb_key',
  '*.vdb_key',
  'key',
  '*.key',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'adminKey',
  '*.adminKey',
  'encryptionKey',
  '*.encryptionKey',
]

/**
 * Provider and llmbase keys that may hide inside free text (an upstream error message, a URL).
 * Masked in every string of a log line, not only in known fields.
 */
const SECRET_PATTERNS = [
  /\bllmb_[A-Za-z0-9_-]{16,}/g, // llmbase keys (user and admin)
  /\bsk-[A-Za-z0-9_-]{16,}/g, // OpenAI, Anthropic (sk-ant-…), OpenRouter
  /\bAIza[0-9A-Za-z_-]{30,}/g, // Google API keys
  /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{12,}/gi, // Authorization header values
]

export function maskSecrets(text: string): string {
  let masked = text
  for (const pattern of SECRET_PATTERNS) masked = masked.replace(pattern, '[REDACTED]')
  return masked
}

function maskDeep(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return maskSecrets(value)
  if (depth > 6 || value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map((item) => maskDeep(item, depth + 1))
  if (value instanceof Error) return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[k] = maskDeep(v, depth + 1)
  return out
}

function serializeError(error: unknown): unknown {
  const serialized = pino.stdSerializers.err(error as Error) as unknown as Record<string, unknown>
  return maskDeep(serialized, 0)
}

export function createLogger(options: { level: LogLevel; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'llmbase' },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
      redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
      serializers: { err: serializeError, error: serializeError },
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => maskDeep(object, 0) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          // The message string itself may carry a secret too.
          const masked = args.map((arg) => (typeof arg === 'string' ? maskSecrets(arg) : arg)) as Parameters<typeof method>
          method.apply(this, masked)
        },
      },
    },
    // The server's log goes to stdout asynchronously: a synchronous write blocks the event
    // loop whenever the reader of stdout (a pipe to a log collector) falls behind, which
    // measured at over a millisecond per request under load. `flushLog` runs before exit.
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  )
}

/** Writes out what the asynchronous log still holds; call before the process exits. */
export function flushLog(logger: Logger): void {
  const stream = (logger as unknown as Record<symbol, { flushSync?: () => void }>)[pino.symbols.streamSym]
  try {
    stream?.flushSync?.()
  } catch {
    // Nothing buffered, or stdout already closed.
  }
}
