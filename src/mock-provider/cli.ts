import { type Command, InvalidArgumentError } from 'commander'

/**
 * `llmbase mock-provider`: the stand-in provider the tests use, on a port of its own, so that
 * the gateway, jobs and webhooks can be tried on a machine with no provider key and no
 * internet (the README's tour does). It answers in OpenAI's, Anthropic's, Cohere's and
 * Gemini's wire formats with made-up text and vectors; it never calls anyone.
 */
export function registerMockProviderCommand(program: Command) {
  program
    .command('mock-provider')
    .description('Run a stand-in LLM provider (OpenAI, Anthropic, Cohere and Gemini formats, made-up answers) for trying llmbase offline')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', parsePort, 8881)
    .option('--latency-ms <ms>', 'wait this long before every answer', parseNonNegative, 0)
    .action(async (flags: { host: string; port: number; latencyMs: number }) => {
      const { startMockProvider } = await import('./index.js')
      const mock = await startMockProvider({
        host: flags.host,
        port: flags.port,
        latencyMs: flags.latencyMs,
        record: false,
        log: (line) => console.log(`${new Date().toISOString()} ${line}`),
      })
      console.log(`mock provider listening at ${mock.url}; endpoints for llmbase instances:`)
      for (const [format, path] of ENDPOINTS) console.log(`  ${format.padEnd(28)} ${mock.url}${path}`)
      console.log(`  ${'webhook receiver'.padEnd(28)} ${mock.url}/webhooks/<anything>`)
      console.log('Any API key is accepted except "reject-me" (answered 401). Ctrl-C stops it.')
      // llmbase refuses private addresses for endpoints unless allowed (docs/security.md).
      console.log(`Start llmbase with LLMBASE_PRIVATE_HOSTS=${flags.host === '127.0.0.1' ? 'localhost,127.0.0.1' : flags.host} to let it call this.`)
      const stop = () => void mock.close().then(() => process.exit(0))
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
    })
}

const ENDPOINTS: Array<[string, string]> = [
  ['openai chat', '/openai/v1/chat/completions'],
  ['openai embeddings', '/openai/v1/embeddings'],
  ['anthropic messages', '/anthropic/v1/messages'],
  ['cohere chat', '/cohere/v2/chat'],
  ['cohere embed', '/cohere/v2/embed'],
  ['gemini generateContent', '/gemini/v1beta/models/gemini-test:generateContent'],
  ['gemini batchEmbedContents', '/gemini/v1beta/models/gemini-embed:batchEmbedContents'],
]

function parsePort(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65_535) throw new InvalidArgumentError('must be a port number (0–65535)')
  return Number(value)
}

function parseNonNegative(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 600_000) throw new InvalidArgumentError('must be a whole number of milliseconds (0–600000)')
  return Number(value)
}
