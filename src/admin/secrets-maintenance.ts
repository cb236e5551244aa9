import { sql } from 'kysely'
import type { Executor } from '../db/database.js'
import { API_KEY_CONTEXT } from '../registry/instances.js'
import { listSealedKeys } from '../registry/queries/instances.js'
import { WEBHOOK_SECRET_CONTEXT } from '../webhooks/signing.js'
import { type Keyring, open, seal, UnknownKeyError } from '../secrets/keyring.js'

/**
 * The operations behind `llmbase keys check|rotate|import-plaintext`. The stored secrets are
 * the provider keys of instances and the signing secrets of webhook endpoints.
 */
export interface SecretProblem {
  /** Which secret: `owner/handle` of an instance, or `webhook endpoint owner/id`. */
  instance: string
  keyId: string | null
  problem: 'unknown_key' | 'does_not_decrypt' | 'not_encrypted'
}

interface SealedWebhookSecret {
  id: string
  owner: string
  secret_ciphertext: Buffer
  secret_key_id: string
}

const webhookLabel = (row: Pick<SealedWebhookSecret, 'id' | 'owner'>) => `webhook endpoint ${row.owner}/${row.id}`

const listWebhookSecrets = (db: Executor) =>
  db
    .selectFrom('webhook_endpoints as e')
    .innerJoin('users as u', 'u.id', 'e.owner_id')
    .select(['e.id', 'u.handle as owner', 'e.secret_ciphertext', 'e.secret_key_id'])
    .orderBy('e.created_at')
    .orderBy('e.id')
    .execute()

const problemOf = (error: unknown): SecretProblem['problem'] => (error instanceof UnknownKeyError ? 'unknown_key' : 'does_not_decrypt')

export interface CheckReport {
  total: number
  readable: number
  problems: SecretProblem[]
}

/** Decrypts every stored secret with the configured keys and reports what does not. */
export async function checkSecrets(db: Executor, keyring: Keyring): Promise<CheckReport> {
  const rows = await listSealedKeys(db)
  const problems: SecretProblem[] = []
  for (const row of rows) {
    const instance = `${row.owner}/${row.handle}`
    if (!row.api_key_ciphertext || !row.api_key_key_id) {
      problems.push({ instance, keyId: null, problem: 'not_encrypted' })
      continue
    }
    try {
      open(keyring, { ciphertext: row.api_key_ciphertext, keyId: row.api_key_key_id }, API_KEY_CONTEXT)
    } catch (error) {
      problems.push({ instance, keyId: row.api_key_key_id, problem: problemOf(error) })
    }
  }
  const webhooks = await listWebhookSecrets(db)
  for (const row of webhooks) {
    try {
      open(keyring, { ciphertext: row.secret_ciphertext, keyId: row.secret_key_id }, WEBHOOK_SECRET_CONTEXT)
    } catch (error) {
      problems.push({ instance: webhookLabel(row), keyId: row.secret_key_id, problem: problemOf(error) })
    }
  }
  const total = rows.length + webhooks.length
  return { total, readable: total - problems.length, problems }
}

export class RotationError extends Error {
  constructor(readonly problems: SecretProblem[]) {
    super(`${problems.length} stored secret(s) cannot be decrypted with the configured keys, so nothing was rotated: ${problems.map((p) => p.instance).join(', ')}`)
    this.name = 'RotationError'
  }
}

/**
 * Re-encrypts every stored secret under `target` (the new primary key) in one transaction:
 * either all of them move or none does. Until it commits, every other reader still sees the
 * old ciphertexts, which the old key decrypts. Returns how many were re-encrypted.
 */
export async function rotateSecrets(db: Executor, from: Keyring, target: Keyring): Promise<number> {
  return db.transaction().execute(async (tx) => {
    const rows = await sql<{ id: number; owner: string; handle: string; api_key_ciphertext: Buffer; api_key_key_id: string }>`
      select i.id, u.handle as owner, i.handle, i.api_key_ciphertext, i.api_key_key_id
      from llm_instances i join users u on u.id = i.owner_id
      where i.api_key_ciphertext is not null
      order by i.id
      for update of i`.execute(tx)
    const problems: SecretProblem[] = []
    const updates: Array<{ id: number; ciphertext: Buffer; keyId: string }> = []
    for (const row of rows.rows) {
      try {
        const plaintext = open(from, { ciphertext: row.api_key_ciphertext, keyId: row.api_key_key_id }, API_KEY_CONTEXT)
        const sealed = seal(target, plaintext, API_KEY_CONTEXT)
        updates.push({ id: row.id, ciphertext: sealed.ciphertext, keyId: sealed.keyId })
      } catch (error) {
        problems.push({ instance: `${row.owner}/${row.handle}`, keyId: row.api_key_key_id, problem: problemOf(error) })
      }
    }
    const webhooks = await sql<SealedWebhookSecret>`
      select e.id, u.handle as owner, e.secret_ciphertext, e.secret_key_id
      from webhook_endpoints e join users u on u.id = e.owner_id
      order by e.created_at, e.id
      for update of e`.execute(tx)
    const webhookUpdates: Array<{ id: string; ciphertext: Buffer; keyId: string }> = []
    for (const row of webhooks.rows) {
      try {
        const plaintext = open(from, { ciphertext: row.secret_ciphertext, keyId: row.secret_key_id }, WEBHOOK_SECRET_CONTEXT)
        const sealed = seal(target, plaintext, WEBHOOK_SECRET_CONTEXT)
        webhookUpdates.push({ id: row.id, ciphertext: sealed.ciphertext, keyId: sealed.keyId })
      } catch (error) {
        problems.push({ instance: webhookLabel(row), keyId: row.secret_key_id, problem: problemOf(error) })
      }
    }
    if (problems.length > 0) throw new RotationError(problems)
    for (const update of updates) {
      await tx
        .updateTable('llm_instances')
        .set({ api_key_ciphertext: update.ciphertext, api_key_key_id: update.keyId })
        .where('id', '=', update.id)
        .execute()
    }
    for (const update of webhookUpdates) {
      await tx
        .updateTable('webhook_endpoints')
        .set({ secret_ciphertext: update.ciphertext, secret_key_id: update.keyId })
        .where('id', '=', update.id)
        .execute()
    }
    return updates.length + webhookUpdates.length
  })
}

/**
 * Encrypts provider keys that an import from another system left in plain text, checks that
 * each one decrypts back to the same text, and then erases the plain text, in one transaction.
 */
export async function importPlaintextSecrets(db: Executor, keyring: Keyring): Promise<number> {
  return db.transaction().execute(async (tx) => {
    const rows = await tx
      .selectFrom('llm_instances')
      .select(['id', 'api_key_plaintext'])
      .where('api_key_plaintext', 'is not', null)
      .orderBy('id')
      .forUpdate()
      .execute()
    for (const row of rows) {
      const plaintext = row.api_key_plaintext as string
      const sealed = seal(keyring, plaintext, API_KEY_CONTEXT)
      if (open(keyring, sealed, API_KEY_CONTEXT) !== plaintext) throw new Error(`instance ${row.id}: the encrypted key does not read back the same`)
      await tx
        .updateTable('llm_instances')
        .set({ api_key_ciphertext: sealed.ciphertext, api_key_key_id: sealed.keyId, api_key_plaintext: null })
        .where('id', '=', row.id)
        .execute()
    }
    return rows.length
  })
}
