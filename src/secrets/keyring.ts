import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto'

/**
 * Encryption of stored secrets (provider API keys) with AES-256-GCM.
 *
 * The 256-bit key is derived from ENCRYPTION_KEY with HKDF-SHA-256, so any string of 32 or
 * more characters makes a proper AES key. Each value gets a random 96-bit nonce; the stored
 * bytes are `version (1) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`, and beside them the id of the
 * key that encrypted them. The id lets a keyring hold several keys during a rotation and
 * tells "encrypted with a key we do not have" apart from "damaged".
 *
 * The additional authenticated data names where the value lives (`llm_instances.api_key`):
 * a ciphertext copied into another column does not decrypt there.
 */
const VERSION = 1
const NONCE_BYTES = 12
const TAG_BYTES = 16
const SALT = Buffer.from('llmbase/secrets/v1')

export interface SecretKey {
  /** 16 hex characters; safe to store and log (it reveals nothing about the key). */
  id: string
  key: Buffer
}

export interface Keyring {
  /** Encrypts new values. */
  primary: SecretKey
  /** Every key that may decrypt: the primary and the previous ones. */
  byId: ReadonlyMap<string, SecretKey>
}

export function deriveKey(secret: string): SecretKey {
  const key = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), SALT, 'aes-256-gcm key', 32))
  const id = createHash('sha256').update(Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), SALT, 'key id', 32))).digest('hex').slice(0, 16)
  return { id, key }
}

export function createKeyring(primary: string, previous: readonly string[] = []): Keyring {
  const primaryKey = deriveKey(primary)
  const byId = new Map<string, SecretKey>()
  for (const secret of previous) {
    const derived = deriveKey(secret)
    byId.set(derived.id, derived)
  }
  byId.set(primaryKey.id, primaryKey)
  return { primary: primaryKey, byId }
}

export interface Sealed {
  ciphertext: Buffer
  keyId: string
}

export function seal(keyring: Keyring, plaintext: string, context: string): Sealed {
  const nonce = randomBytes(NONCE_BYTES)
  const cipher = createCipheriv('aes-256-gcm', keyring.primary.key, nonce)
  cipher.setAAD(Buffer.from(context, 'utf8'))
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return {
    ciphertext: Buffer.concat([Buffer.from([VERSION]), nonce, body, cipher.getAuthTag()]),
    keyId: keyring.primary.id,
  }
}

/** The value was encrypted with a key this server does not have (a wrong or missing ENCRYPTION_KEY). */
export class UnknownKeyError extends Error {
  constructor(readonly keyId: string) {
    super(`the value was encrypted with key ${keyId}, which is not configured`)
    this.name = 'UnknownKeyError'
  }
}

/** The value does not decrypt under its key: damaged, or moved from another column. */
export class DecryptionError extends Error {
  constructor(readonly keyId: string) {
    super(`the value does not decrypt under key ${keyId}`)
    this.name = 'DecryptionError'
  }
}

export function open(keyring: Keyring, sealed: Sealed, context: string): string {
  const key = keyring.byId.get(sealed.keyId)
  if (!key) throw new UnknownKeyError(sealed.keyId)
  const { ciphertext } = sealed
  if (ciphertext.length < 1 + NONCE_BYTES + TAG_BYTES || ciphertext[0] !== VERSION) throw new DecryptionError(sealed.keyId)
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.key, ciphertext.subarray(1, 1 + NONCE_BYTES))
    decipher.setAAD(Buffer.from(context, 'utf8'))
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - TAG_BYTES))
    return Buffer.concat([decipher.update(ciphertext.subarray(1 + NONCE_BYTES, ciphertext.length - TAG_BYTES)), decipher.final()]).toString('utf8')
  } catch {
    throw new DecryptionError(sealed.keyId)
  }
}
