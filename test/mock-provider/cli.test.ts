import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, it } from 'node:test'
import { ROOT, runCli } from '../helpers/cli.js'

describe('llmbase mock-provider', () => {
  it('serves the providers’ formats and takes webhooks on a port of its own, printing each request, until SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli.ts'), 'mock-provider', '--port', '0'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const lines: string[] = []
    const waiters: Array<() => void> = []
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line)
      for (const wake of waiters.splice(0)) wake()
    })
    const lineMatching = async (pattern: RegExp) => {
      for (;;) {
        const found = lines.find((line) => pattern.test(line))
        if (found) return found
        await new Promise<void>((resolve) => waiters.push(resolve))
      }
    }
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
    try {
      const url = /listening at (http:\/\/\S+);/.exec(await lineMatching(/listening at/))![1]!
      assert.match(await lineMatching(/anthropic messages/), new RegExp(`${url}/anthropic/v1/messages$`))
      await lineMatching(/LLMBASE_PRIVATE_HOSTS=/)

      const chat = await fetch(`${url}/openai/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer anything' },
        body: JSON.stringify({ model: 'gpt-x', messages: [{ role: 'user', content: 'hi' }] }),
      })
      assert.equal(chat.status, 200)
      assert.equal(((await chat.json()) as { object: string }).object, 'chat.completion')
      const message = await fetch(`${url}/anthropic/v1/messages`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'anything' },
        body: JSON.stringify({ model: 'claude-x', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
      })
      assert.equal(((await message.json()) as { type: string }).type, 'message')
      const refused = await fetch(`${url}/openai/v1/embeddings`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer reject-me' },
        body: JSON.stringify({ model: 'e', input: 'x' }),
      })
      assert.equal(refused.status, 401)
      const hook = await fetch(`${url}/webhooks/tour`, { method: 'POST', headers: { 'webhook-id': 'msg_1' }, body: '{"type":"job.succeeded"}' })
      assert.equal(hook.status, 204)

      await lineMatching(/openai chat \/openai\/v1\/chat\/completions/)
      await lineMatching(/anthropic chat \/anthropic\/v1\/messages/)
      assert.match(await lineMatching(/webhook \/webhooks\/tour/), /msg_1 \{"type":"job.succeeded"\}/)
    } finally {
      child.kill('SIGTERM')
    }
    assert.equal(await exited, 0)
  })

  it('refuses a port that is not one', async () => {
    const result = await runCli(['mock-provider', '--port', '70000'])
    assert.equal(result.code, 1)
    assert.match(result.stderr, /must be a port number/)
  })
})
