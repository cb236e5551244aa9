import type { Logger } from 'pino'
import type { Config } from '../config.js'
import { announceGeneratedSecrets, type ResolvedSecrets, resolveSecrets } from '../data-folder.js'
import { createKeyring, type Keyring } from './keyring.js'

/**
 * What every command that opens the database starts with: the secrets (configured, or read
 * from or generated in the data folder), announced once if new, and the keyring that
 * encrypts with the current key and still decrypts with the previous ones.
 */
export function openSecrets(config: Config, logger: Pick<Logger, 'warn'>): { secrets: ResolvedSecrets; keyring: Keyring } {
  const secrets = resolveSecrets(config)
  announceGeneratedSecrets(secrets.generated, { logger })
  return { secrets, keyring: createKeyring(secrets.encryptionKey, [...config.previousEncryptionKeys, ...secrets.pendingEncryptionKeys]) }
}
