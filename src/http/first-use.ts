/**
 * A compiled function made when it is first needed rather than when it is declared, for the
 * request validators and response serializers (a faster start; see validation.ts and
 * serialization.ts). Each waits in `pending` until it is compiled, so that `compileAll` can
 * compile what is left, for a test to find a schema that does not compile.
 */
export function onFirstUse<T>(pending: Set<() => T>, compile: () => T): () => T {
  let compiled: T | undefined
  const ensure = () => {
    if (compiled === undefined) {
      compiled = compile()
      pending.delete(ensure)
    }
    return compiled
  }
  pending.add(ensure)
  return ensure
}

/** Compiles every function of `pending` not compiled yet; how many there were. */
export function compileAll<T>(pending: Set<() => T>): number {
  const left = [...pending]
  for (const ensure of left) ensure()
  return left.length
}
