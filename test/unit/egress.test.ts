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
    for (const url of ['https://api.openai.com/v1/embeddings', 'http://203.0.113.7:8000/v1', 'https://[2001:db8::1]/x']) {
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
  })
})
