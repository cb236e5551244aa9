import type { FastifyInstance } from 'fastify'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * A route other than GET, HEAD or OPTIONS that writes nothing the read paths remember (a
     * search, a gateway call) says so here; without it, every answer it gives makes the server
     * forget its cached lookups (see `forgetLookupsAfterWrites`).
     */
    readOnly?: boolean
  }
}

/**
 * The rule behind `config.readOnly`: the read paths remember projects and model names for a
 * moment (ProjectLookup, the gateway's resolver); any request that may have written (every
 * method but GET, HEAD and OPTIONS, unless its route is `readOnly`) clears them when it has
 * been answered, so that the next read sees the change.
 */
export function forgetLookupsAfterWrites(app: FastifyInstance, caches: ReadonlyArray<{ clear(): void }>) {
  app.addHook('onResponse', async (request) => {
    if (!['GET', 'HEAD', 'OPTIONS'].includes(request.method) && !request.routeOptions.config.readOnly) {
      for (const cache of caches) cache.clear()
    }
  })
}
