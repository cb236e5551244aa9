/**
 * The mock LLM provider (src/mock-provider) in a process of its own, so that a benchmark's
 * load generator and the gateways it measures do not share an event loop with it.
 *
 *   node --import tsx bench/_mock-server.ts '{"latencyMs":20,"responseBytes":1000}'
 *
 * The one argument is the provider's MockOptions as JSON. Once listening it prints one line,
 * `{"url":"http://127.0.0.1:…"}`, and it closes on SIGTERM or SIGINT.
 */
import { type MockOptions, startMockProvider } from '../src/mock-provider/index.js'

const options = JSON.parse(process.argv[2] ?? '{}') as MockOptions
// Under load every recorded request would be kept for the whole run: a benchmark reads none.
const mock = await startMockProvider({ record: false, ...options })
process.stdout.write(`${JSON.stringify({ url: mock.url })}\n`)

const stop = async () => {
  await mock.close()
  process.exit(0)
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
