import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { endpointProblem, isPrivateAddress, parseEgressPolicy } from '../../src/egress/policy.js'

const policyOf = (...entries: string[]) => {
  const { policy, problems } = parseEgressPolicy(entries)
  assert.deepEqual(problems, [])
  return policy
}

describe('the endpoint policy', () => {
  const strict = policyOf()

  it('allows public http and https endpoints', () => {
    for (const url of ['https://api.openai.com/v1/embeddings', 'http://8.8.8.8:8000/v1', 'https://[2606:4700::1111]/x', 'http://[2002:808:808::1]/']) {
      assert.equal(endpointProblem(url, strict), null, url)
    }
  })

  it('refuses private, loopback, link-local and metadata destinations by default', () => {
    for (const url of [
      'http://127.0.0.1:11434/api/embed',
      'http://localhost:8000',
      'http://10.1.2.3/x',
      'http://172.20.0.1/x',
      'http://192.168.1.10/x',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]:8080/',
      'http://[::ffff:10.0.0.1]/',
      'http://[fd00::1]/',
      'http://0.0.0.0:80/',
      'http://ollama.local:11434/',
      'http://metadata.google.internal/',
    ]) {
      assert.match(endpointProblem(url, strict) ?? '', /private/, url)
    }
  })

  it('refuses every IPv6 form that carries a private IPv4 address, and names with a trailing dot', () => {
    for (const url of [
      'http://[64:ff9b::a9fe:a9fe]/', // NAT64 of 169.254.169.254
      'http://[64:ff9b::10.0.0.1]/',
      'http://[64:ff9b:1::a00:1]/', // local-use NAT64 (RFC 8215)
      'http://[::a9fe:a9fe]/', // IPv4-compatible
      'http://[::127.0.0.1]/',
      'http://[::ffff:a9fe:a9fe]/', // IPv4-mapped, hex
      'http://[::ffff:0:a9fe:a9fe]/', // SIIT
      'http://[2002:a9fe:a9fe::1]/', // 6to4 of 169.254.169.254
      'http://[2002:7f00:1::]/',
      'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', // Teredo
      'http://[FE80::1]/',
      'http://localhost./',
      'http://LOCALHOST.:8080/',
      'http://api.localhost./',
      'http://0x7f.1/', // 127.0.0.1, as the URL parser reads it
      'http://2130706433/', // 127.0.0.1 as one number
      'http://198.18.0.1/', // benchmarking
      'http://203.0.113.7/', // documentation
      'http://[2001:db8::1]/',
    ]) {
      assert.match(endpointProblem(url, strict) ?? '', /private/, url)
    }
  })

  it('refuses other schemes, credentials in the URL and text that is no URL', () => {
    assert.match(endpointProblem('file:///etc/passwd', strict) ?? '', /http or https/)
    assert.match(endpointProblem('https://user:secret@api.example.org/', strict) ?? '', /credentials/)
    assert.match(endpointProblem('not a url', strict) ?? '', /not a valid URL/)
  })

  it('allows what LLMBASE_PRIVATE_HOSTS lists: names, addresses, ranges, or everything', () => {
    const lan = policyOf('localhost', '10.0.0.0/8', '192.168.1.5')
    assert.equal(endpointProblem('http://localhost:11434/api/embed', lan), null)
    assert.equal(endpointProblem('http://10.9.8.7/v1', lan), null)
    assert.equal(endpointProblem('http://192.168.1.5/v1', lan), null)
    assert.match(endpointProblem('http://192.168.1.6/v1', lan) ?? '', /private/)
    assert.equal(endpointProblem('http://169.254.169.254/', policyOf('*')), null)
  })

  it('reports unusable policy entries', () => {
    assert.equal(parseEgressPolicy(['10.0.0.0/99', 'not valid!']).problems.length, 2)
  })

  it('classifies addresses', () => {
    assert.equal(isPrivateAddress('8.8.8.8'), false)
    assert.equal(isPrivateAddress('100.64.1.1'), true)
    assert.equal(isPrivateAddress('::ffff:127.0.0.1'), true)
    assert.equal(isPrivateAddress('2606:4700::1111'), false)
    assert.equal(isPrivateAddress('64:ff9b::808:808'), false, 'NAT64 of a public address')
    assert.equal(isPrivateAddress('64:ff9b::a9fe:a9fe'), true)
    assert.equal(isPrivateAddress('::a9fe:a9fe'), true)
    assert.equal(isPrivateAddress('::'), true)
    assert.equal(isPrivateAddress('255.255.255.255'), true)
    assert.equal(isPrivateAddress('not an address'), false)
  })
})
