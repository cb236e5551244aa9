import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'
import { compileAll, onFirstUse } from './first-use.js'

/**
 * Fastify's own response serializers (fast-json-stringify), compiled on first use instead of
 * at start-up: compiling one per route and status took about half a second of every start
 * (`npm run bench -- startup`, docs/performance.md#start-up), and most of them serve errors
 * that a given process may never send. The serializers are the ones Fastify builds by default;
 * only the moment changes. `compilePendingSerializers` compiles what is left, so that a test
 * finds a schema fast-json-stringify refuses without provoking each answer.
 */
type Factory = ReturnType<typeof SerializerSelector>
type Compile = ReturnType<Factory>
type Serialize = (data: unknown) => string

const pending = new Set<() => Serialize>()

export const lazySerializerFactory = ((externalSchemas: unknown, options: unknown) => {
  const compile = (SerializerSelector() as (schemas: unknown, options: unknown) => Compile)(externalSchemas, options)
  return (route: Parameters<Compile>[0]) => {
    const ensure = onFirstUse(pending, () => compile(route) as Serialize)
    return (data: unknown) => ensure()(data)
  }
}) as unknown as Factory

/** Compiles every response serializer not compiled yet; throws what fast-json-stringify throws. */
export const compilePendingSerializers = () => compileAll(pending)
