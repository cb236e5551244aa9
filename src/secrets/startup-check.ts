import { sql } from 'kysely'
import type { Logger } from 'pino'
import type { Executor } from '../db/database.js'
import type { Keyring } from './keyring.js'

/**
 * At start-up, one look at which keys encrypted the stored secrets. A wrong ENCRYPTION_KEY
 * must not stop the server (everything without provider keys still works), but it must be
 * said once, clearly: the affected instances answer 503 when used until it is fixed.
 */
export async function reportUnreadableSecrets(db: Executor, keyring: Keyring, logger: Logger): Promise<void> {
  const { rows } = await sql<{ key_id: string | null; plaintext: boolean; count: number }>`
    select api_key_key_id as key_id, api_key_plaintext is not null as plaintext, count(*)::int as count
    from llm_instances
    where api_key_ciphertext is not null or api_key_plaintext is not null
    group by 1, 2`.execute(db)
  const unknown = rows.filter((r) => r.key_id !== null && !keyring.byId.has(r.key_id))
  const unreadable = unknown.reduce((n, r) => n + r.count, 0)
  if (unreadable > 0) {
    logger.error(
      { unreadable_secrets: unreadable, key_ids: [...new Set(unknown.map((r) => r.key_id))], configured_key_id: keyring.primary.id },
      `${unreadable} stored provider key(s) were encrypted with an encryption key this server does not have; ` +
        'the instances holding them answer 503 when used. Set ENCRYPTION_KEY (or ENCRYPTION_KEY_PREVIOUS) to the key ' +
        'they were encrypted with; `llmbase keys check` lists them.',
    )
  }
  const plaintext = rows.filter((r) => r.key_id === null && r.plaintext).reduce((n, r) => n + r.count, 0)
  if (plaintext > 0) {
    logger.warn({ plaintext_secrets: plaintext }, `${plaintext} imported provider key(s) are not encrypted yet; run \`llmbase keys import-plaintext\``)
  }
}
