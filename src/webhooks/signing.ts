import { createHmac, randomBytes } from 'node:crypto'
import { type Keyring, open, seal } from '../secrets/keyring.js'

/**
 * Signing as the Standard Webhooks specification (1.0) describes it, so that receivers can
 * verify with its libraries (`standardwebhooks` on npm, and its ports to other languages) or
 * with a few lines of their own (docs/webhooks.md).
 *
 * The secret is 32 random bytes, shown as `whsec_<base64>`; the HMAC key is those bytes, not
 * the text. What is signed is `{webhook-id}.{webhook-timestamp}.{body}`: the id ties the
 * signature to one delivery, the timestamp (new on every attempt) lets a receiver refuse an
 * old request replayed by someone who recorded it.
 */
export const SECRET_PREFIX = 'whsec_'

/** Where the sealed secret lives; the additional data of its encryption (see keyring.ts). */
export const WEBHOOK_SECRET_CONTEXT = 'webhook_endpoints.secret'

export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64')
}

/** `v1,<base64 HMAC-SHA256>` for one attempt of one delivery. */
export function sign(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64')
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`, 'utf8').digest('base64')
  return `v1,${mac}`
}

/** The headers of one attempt; `timestamp` is in unix seconds. */
export function signedHeaders(secret: string, id: string, timestamp: number, body: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'llmbase',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': sign(secret, id, timestamp, body),
  }
}

export function sealSecret(keyring: Keyring, secret: string) {
  return seal(keyring, secret, WEBHOOK_SECRET_CONTEXT)
}

export function openSecret(keyring: Keyring, row: { secret_ciphertext: Buffer; secret_key_id: string }): string {
  return open(keyring, { ciphertext: row.secret_ciphertext, keyId: row.secret_key_id }, WEBHOOK_SECRET_CONTEXT)
}
