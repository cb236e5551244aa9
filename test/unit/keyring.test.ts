import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createKeyring, DecryptionError, deriveKey, open, seal, UnknownKeyError } from '../../src/secrets/keyring.js'

const keyA = 'a'.repeat(32) + '-first'
const keyB = 'b'.repeat(32) + '-second'

describe('the secret keyring', () => {
  it('round-trips a value and never produces the same ciphertext twice', () => {
    const keyring = createKeyring(keyA)
    const one = seal(keyring, 'sk-test-value', 'ctx')
    const two = seal(keyring, 'sk-test-value', 'ctx')
    assert.notDeepEqual(one.ciphertext, two.ciphertext)
    assert.equal(open(keyring, one, 'ctx'), 'sk-test-value')
    assert.equal(one.ciphertext[0], 1, 'format version')
    assert.equal(one.ciphertext.length, 1 + 12 + 'sk-test-value'.length + 16)
  })

  it('derives a stable id per key that does not reveal the key', () => {
    assert.equal(deriveKey(keyA).id, deriveKey(keyA).id)
    assert.notEqual(deriveKey(keyA).id, deriveKey(keyB).id)
    assert.match(deriveKey(keyA).id, /^[0-9a-f]{16}$/)
    assert.ok(!keyA.includes(deriveKey(keyA).id))
  })

  it('tells an unknown key from a damaged or moved value', () => {
    const sealed = seal(createKeyring(keyA), 'secret', 'ctx')
    assert.throws(() => open(createKeyring(keyB), sealed, 'ctx'), UnknownKeyError)
    assert.throws(() => open(createKeyring(keyA), sealed, 'other-column'), DecryptionError)
    const tampered = Buffer.from(sealed.ciphertext)
    tampered[20] = (tampered[20] as number) ^ 1
    assert.throws(() => open(createKeyring(keyA), { ...sealed, ciphertext: tampered }, 'ctx'), DecryptionError)
    assert.throws(() => open(createKeyring(keyA), { ...sealed, ciphertext: sealed.ciphertext.subarray(0, 10) }, 'ctx'), DecryptionError)
  })

  it('decrypts with previous keys and encrypts with the primary one', () => {
    const old = seal(createKeyring(keyA), 'old secret', 'ctx')
    const rotated = createKeyring(keyB, [keyA])
    assert.equal(open(rotated, old, 'ctx'), 'old secret')
    assert.equal(seal(rotated, 'new', 'ctx').keyId, deriveKey(keyB).id)
  })
})
