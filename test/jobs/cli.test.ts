import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import { ROOT, runCli } from '../helpers/cli.js'
import { DATABASES } from '../helpers/databases.js'
import { type GatewayFixture, putMockInstance, startGateway } from '../helpers/gateway.js'
import { JOBS_TEST_ENV, submitJob, waitForJob } from '../helpers/job-client.js'

const ask = (text: string) => ({ messages: [{ role: 'user', content: text }] })

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

for (const kind of DATABASES) {
  describe(`llmbase jobs against a server on the ${kind} database`, () => {
    let fx: GatewayFixture
    let embedJob: string
    let chatJob: string
    let deadJob: string

    before(async () => {
      fx = await startGateway(kind, ['alice', 'bob'], { ...JOBS_TEST_ENV, LLMBASE_GATEWAY_MAX_ATTEMPTS: '1' })
      await putMockInstance(fx, 'alice', 'embed', { kind: 'embedding' })
      await putMockInstance(fx, 'alice', 'chat')
      await putMockInstance(fx, 'alice', 'down', { tag: 'down' })
      await putMockInstance(fx, 'alice', 'slow', { tag: 'slow' })
      await fx.server.request('PUT', '/v1/projects/alice/docs', { key: fx.keys.alice, body: { project_handle: 'docs', instance_handle: 'embed' } })
      const submit = async (body: Record<string, unknown>) => {
        const response = await submitJob(fx.server, 'alice', fx.keys.alice as string, body)
        assert.equal(response.status, 201, response.text)
        return (await waitForJob(fx.server, 'alice', fx.keys.alice as string, response.body.id)).id as string
      }
      embedJob = await submit({ type: 'embed', payload: { project: 'docs', items: [1, 2, 3].map((n) => ({ text_id: `t${n}`, text: `text ${n}` })) } })
      chatJob = await submit({ type: 'chat.batch', payload: { model: 'chat', requests: [{ custom_id: 'x', body: ask('hi') }, { body: ask('ho') }] } })
      fx.mock.setBehaviour('down', { status: 500 })
      deadJob = await submit({ type: 'chat.batch', payload: { model: 'down', requests: [{ body: ask('hi') }] }, max_attempts: 1 })
    })
    after(async () => fx?.close())

    const env = (user = 'alice') => ({ LLMBASE_URL: fx.server.url, LLMBASE_API_KEY: fx.keys[user] as string, LLMBASE_USER: user })
    const noStack = (stderr: string) => assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace')

    it('lists jobs as a table, newest first, filtered by state and type', async () => {
      // Side by side: each command starts a Node process.
      const [all, dead, embeds, none] = await Promise.all([
        runCli(['jobs', 'list'], env()),
        runCli(['jobs', 'list', '--state', 'dead', '--url', fx.server.url, '--key', fx.keys.alice as string, '--user', 'alice']),
        runCli(['jobs', 'list', '--type', 'embed', '--limit', '5'], env()),
        runCli(['jobs', 'list'], env('bob')),
      ])
      assert.equal(all.code, 0, all.stderr)
      const lines = all.stdout.trim().split('\n')
      assert.match(lines[0] as string, /^ID\s+TYPE\s+STATE\s+PROGRESS\s+ATTEMPTS\s+CREATED$/)
      assert.deepEqual(lines.slice(1).map((line) => line.split(/\s+/).slice(0, 5)), [
        [deadJob, 'chat.batch', 'dead', '0/1', '1/1'],
        [chatJob, 'chat.batch', 'succeeded', '2/2', '1/5'],
        [embedJob, 'embed', 'succeeded', '3/3', '1/5'],
      ])
      assert.equal(dead.code, 0, dead.stderr)
      assert.equal(dead.stdout.trim().split('\n').length, 2)
      assert.ok(dead.stdout.includes(deadJob))
      assert.deepEqual(embeds.stdout.trim().split('\n').slice(1).map((line) => line.split(/\s+/)[0]), [embedJob])
      assert.equal(none.stdout, 'No jobs.\n')
    })

    it('shows a job with its progress, errors and a summary of its result', async () => {
      const show = (id: string, ...flags: string[]) => runCli(['jobs', 'show', id, ...flags], env())
      const [embed, chat, dead, json] = await Promise.all([show(embedJob), show(chatJob), show(deadJob), show(chatJob, '--json')])
      assert.equal(embed.code, 0, embed.stderr)
      assert.match(embed.stdout, new RegExp(`^Job ${embedJob} \\(embed\\) of alice\n`))
      assert.match(embed.stdout, /\n {2}state {5}succeeded\n/)
      assert.match(embed.stdout, /\n {2}attempts {2}1\/5\n/)
      assert.match(embed.stdout, /\n {2}progress {2}\[#{20}\] 3\/3 100%\n/)
      assert.match(embed.stdout, /\n {2}result {4}3 text\(s\) embedded into alice\/docs with alice\/embed\n/)
      assert.match(chat.stdout, /result {4}2 request\(s\) succeeded, 0 failed; tokens: \d+ prompt, \d+ completion/)
      const parsed = JSON.parse(json.stdout)
      assert.equal(parsed.id, chatJob)
      assert.equal(parsed.result.results[0].custom_id, 'x', 'the whole result, answers included')
      assert.match(dead.stdout, /\n {2}errors\n {4}attempt 1 at \S+ \S+: upstream_error: all 1 requests failed; 1 may succeed later/)
    })

    it('watches a finished job: exit 0 when it succeeded, 1 when it is dead', async () => {
      const watch = (id: string) => runCli(['jobs', 'show', id, '--watch'], env())
      const [succeeded, dead] = await Promise.all([watch(embedJob), watch(deadJob)])
      assert.equal(succeeded.code, 0, succeeded.stderr)
      const lines = succeeded.stdout.split('\n')
      assert.equal(lines[0], 'succeeded  [####################] 3/3 100%', 'one line, not redrawn, when not on a terminal')
      assert.equal(lines[1], `Job ${embedJob} (embed) of alice`)
      assert.equal(dead.code, 1)
      assert.match(dead.stdout, /^dead {7}\[-{20}\] 0\/1 0%\n/)
    })

    it('watches a running job until it ends, writing a line per change', async () => {
      // The provider never answers; the job ends when it is cancelled, after the command saw it run.
      fx.mock.enqueue('slow', { hang: true })
      const submitted = await submitJob(fx.server, 'alice', fx.keys.alice as string, { type: 'chat.batch', payload: { model: 'slow', requests: [{ body: ask('take your time') }] } })
      assert.equal(submitted.status, 201, submitted.text)
      const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli.ts'), 'jobs', 'show', submitted.body.id, '--watch', '--interval', '100'], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, ...env() },
      })
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
      const lines: string[] = []
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line)
        if (line.startsWith('running')) void fx.server.request('POST', `/v1/jobs/alice/${submitted.body.id}/cancel`, { key: fx.keys.alice as string })
      })
      assert.equal(await exited, 1, 'a cancelled job')
      const progressLines = lines.filter((line) => /^\w+\s+\[/.test(line))
      assert.deepEqual(progressLines, ['running    [--------------------] 0/1 0%', 'cancelled  [--------------------] 0/1 0%'])
      assert.equal(lines[2], `Job ${submitted.body.id} (chat.batch) of alice`)
    })

    it('retries a dead job, which then runs again', async () => {
      fx.mock.setBehaviour('down', null)
      const retried = await runCli(['jobs', 'retry', deadJob], env())
      assert.equal(retried.code, 0, retried.stderr)
      assert.equal(retried.stdout, `Job ${deadJob} will run again now (attempt 1 of 1).\n`)
      const job = await waitForJob(fx.server, 'alice', fx.keys.alice as string, deadJob)
      assert.equal(job.state, 'succeeded')
      assert.equal(job.replays, 1)
      const again = await runCli(['jobs', 'retry', embedJob], env())
      assert.equal(again.code, 1)
      assert.match(again.stderr, /^llmbase: the server answered 409: job \S+ cannot be retried: it succeeded/)
    })

    it('explains an unreachable server, a refused key, a missing job and missing settings, without stack traces', async () => {
      const port = await closedPort()
      const [unreachable, refused, missing, otherUser, noKey, noUser] = await Promise.all([
        runCli(['jobs', 'list', '--url', `http://127.0.0.1:${port}`], env()),
        runCli(['jobs', 'list', '--key', 'llmb_not-a-key'], env()),
        runCli(['jobs', 'show', '00000000-0000-4000-8000-000000000000'], env()),
        runCli(['jobs', 'list', '--user', 'alice'], env('bob')),
        runCli(['jobs', 'list'], { LLMBASE_URL: fx.server.url, LLMBASE_USER: 'alice' }),
        runCli(['jobs', 'list'], { LLMBASE_URL: fx.server.url, LLMBASE_API_KEY: fx.keys.alice as string }),
      ])
      assert.equal(unreachable.code, 1)
      assert.equal(unreachable.stderr, `llmbase: cannot reach the server at http://127.0.0.1:${port}: ECONNREFUSED (is it running? set --url or LLMBASE_URL)\n`)
      noStack(unreachable.stderr)
      assert.equal(refused.code, 1)
      assert.match(refused.stderr, /^llmbase: the server refused the API key \(401\)/)
      noStack(refused.stderr)
      assert.equal(missing.code, 1)
      assert.equal(missing.stderr, 'llmbase: not found (404): job 00000000-0000-4000-8000-000000000000 not found\n')
      assert.equal(otherUser.code, 1)
      assert.equal(otherUser.stderr, 'llmbase: not found (404): user alice not found\n')
      assert.equal(noKey.stderr, 'llmbase: no API key: pass --key, or set LLMBASE_API_KEY\n')
      assert.equal(noUser.stderr, 'llmbase: no user: pass --user <handle> (the owner of the jobs), or set LLMBASE_USER\n')
    })
  })
}
