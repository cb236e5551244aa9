import { createDecipheriv, createHash } from 'node:crypto'
import { type Keyring, open, seal } from '../../secrets/keyring.js'
import { API_KEY_CONTEXT } from '../../registry/instances.js'

/**
 * Provider keys as dhamps-vdb stored them, and on to ours. Its migration 4 encrypts them with
 * AES-256-GCM under SHA-256 of its ENCRYPTION_KEY string, a random 12-byte nonce in front of
 * ciphertext and tag, no additional data (read from its `internal/crypto`); earlier versions
 * kept them in plain text. Every key is sealed under our keyring and opened again before it
 * counts as imported, so a key that is reported `ok` is known to decrypt here.
 */
const NONCE_BYTES = 12
const TAG_BYTES = 16

export type KeyStatus = 'ok' | 'could_not_decrypt' | 'no_key'

export interface CarriedKey {
  status: KeyStatus
  /** Where it came from, for the report. */
  from: 'encrypted' | 'plain text' | null
  /** The key sealed under our keyring, when `ok`. */
  sealed: { ciphertext: Buffer; keyId: string } | null
  /** The plain text, only to compare with a key already stored; never printed. */
  plaintext: string | null
}

/** The plain text of one of dhamps-vdb's ciphertexts, or null when `oldKey` does not open it. */
export function openLegacyKey(ciphertext: Buffer, oldKey: string): string | null {
  if (ciphertext.length < NONCE_BYTES + TAG_BYTES) return null
  try {
    const key = createHash('sha256').update(oldKey, 'utf8').digest()
    const decipher = createDecipheriv('aes-256-gcm', key, ciphertext.subarray(0, NONCE_BYTES))
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - TAG_BYTES))
    return Buffer.concat([decipher.update(ciphertext.subarray(NONCE_BYTES, ciphertext.length - TAG_BYTES)), decipher.final()]).toString('utf8')
  } catch {
    return null
  }
}

/**
 * The provider key of one instance, re-encrypted for llmbase: the encrypted column first, the
 * plain-text one (before version 4, or kept beside the encrypted one by some builds) when that
 * gives nothing.
 */
export function carryKey(instance: { plainKey: string | null; encryptedKey: Buffer | null }, oldKey: string | null, keyring: Keyring): CarriedKey {
  const encrypted = instance.encryptedKey && instance.encryptedKey.length > 0 ? instance.encryptedKey : null
  const opened = encrypted && oldKey ? openLegacyKey(encrypted, oldKey) : null
  const plain = instance.plainKey && instance.plainKey.length > 0 ? instance.plainKey : null
  const plaintext = opened ?? plain
  if (plaintext === null) {
    return { status: encrypted ? 'could_not_decrypt' : 'no_key', from: null, sealed: null, plaintext: null }
  }
  const sealed = seal(keyring, plaintext, API_KEY_CONTEXT)
  if (open(keyring, sealed, API_KEY_CONTEXT) !== plaintext) throw new Error('a provider key does not read back the same after encryption')
  return { status: 'ok', from: opened !== null ? 'encrypted' : 'plain text', sealed, plaintext }
}

/** The plain text of a key already stored in llmbase, or null when there is none or it does not open. */
export function readStoredKey(keyring: Keyring, row: { api_key_ciphertext: Buffer | null; api_key_key_id: string | null }): string | null {
  if (!row.api_key_ciphertext || !row.api_key_key_id) return null
  try {
    return open(keyring, { ciphertext: row.api_key_ciphertext, keyId: row.api_key_key_id }, API_KEY_CONTEXT)
  } catch {
    return null
  }
}
