import { readdirSync, readFileSync } from 'node:fs'
import type { FastifyPluginAsync } from 'fastify'
import { Type } from 'typebox'
import { AppError } from '../http/errors.js'

/**
 * What a browser finds at `/` until the console (web/) is built: where the API reference and
 * the guides are, and the first calls to make. The guides are the Markdown files of `docs/`,
 * served as text so that they read offline, on a machine with no way to the project's site.
 */
const DOCS = new URL('../../docs/', import.meta.url)

/** One line about each guide, for the page's list; a guide not named here is listed by name. */
const ABOUT: Record<string, string> = {
  identity: 'users, API keys, the admin key',
  registry: 'API standards, definitions, instances, provider keys, sharing',
  embeddings: 'projects, uploads, similarity search, metadata filters',
  gateway: 'OpenAI- and Anthropic-compatible calls, routes, retries, cache, limits, budgets, prices',
  jobs: 'the job queue: embedding and chat batches, progress, retries, dead letters',
  webhooks: 'signed webhooks when a job ends',
  errors: 'error format and codes',
  configuration: 'every setting',
  operations: 'running it: backups, upgrades, moving in from dhamps-vdb',
  scaling: 'from the embedded database to a PostgreSQL server, several processes',
  database: 'the schema and migrations',
  security: 'what is protected and how',
  compatibility: 'dhamps-vdb compatibility and deviations, the seed documents',
  performance: 'benchmarks and their figures',
}

function guideNames(): string[] {
  try {
    return readdirSync(DOCS).filter((file) => /^[a-z-]+\.md$/.test(file)).map((file) => file.slice(0, -3)).sort()
  } catch {
    return [] // an installation without docs/ still has its page
  }
}

const escape = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)

function page(version: string, guides: string[]): string {
  const items = guides.map((name) => `<li><a href="/guides/${name}">${escape(name)}</a>${ABOUT[name] ? ` — ${escape(ABOUT[name])}` : ''}</li>`).join('\n')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>llmbase</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; }
code, pre { font: 14px ui-monospace, monospace; background: #f3f3f3; }
pre { padding: .75rem; overflow-x: auto; }
@media (prefers-color-scheme: dark) { body { background: #161616; color: #e8e8e8; } code, pre { background: #262626; } a { color: #8ab4f8; } }
</style>
</head>
<body>
<main>
<h1>llmbase <small>${escape(version)}</small></h1>
<p>This server is running. It answers JSON over HTTP; every call but the health checks needs an API key
(<code>Authorization: Bearer …</code>).</p>
<ul>
<li><a href="/docs">API reference</a> (every endpoint, try it out) and <a href="/openapi.json">/openapi.json</a></li>
<li><a href="/healthz">/healthz</a> and <a href="/readyz">/readyz</a></li>
</ul>
<h2>First calls</h2>
<pre>curl -X PUT http://HOST/v1/users/alice -H "Authorization: Bearer $ADMIN_KEY" \\
  -H 'content-type: application/json' -d '{"name": "Alice"}'
curl http://HOST/v1/models -H "Authorization: Bearer $ALICE_KEY"</pre>
<p>The admin key is in <code>admin-key</code> of the data folder (or <code>ADMIN_KEY</code>); user creation answers the user's first key.</p>
<h2>Guides</h2>
<ul>
${items}
</ul>
</main>
</body>
</html>
`
}

export const welcomeRoutes: FastifyPluginAsync<{ version: string }> = async (app, { version }) => {
  const guides = guideNames()
  const html = page(version, guides)
  const config = { auth: 'none' as const }

  app.get('/', { config, schema: { hide: true } }, async (request, reply) => {
    reply.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
    return reply.type('text/html; charset=utf-8').send(html.replaceAll('http://HOST', `${request.protocol}://${escape(request.host)}`))
  })

  app.get('/guides/:name', {
    config,
    schema: { hide: true, params: Type.Object({ name: Type.String({ pattern: '^[a-z-]{1,40}$' }) }) },
  }, async (request, reply) => {
    const { name } = request.params as { name: string }
    if (!guides.includes(name)) throw new AppError('not_found', `there is no guide ${name}; / lists them`)
    // Plain text: browsers show it, where text/markdown would be downloaded.
    return reply.type('text/plain; charset=utf-8').send(readFileSync(new URL(`${name}.md`, DOCS)))
  })
}
