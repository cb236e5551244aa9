import { type TObject, type TSchema, Type } from 'typebox'

/**
 * JSON merge patch (RFC 7396): objects merge key by key, `null` deletes a key, any other value
 * replaces. PATCH routes apply the patch to the resource as a PUT body and then run the PUT
 * rules on the result, so that both routes accept and refuse exactly the same states.
 */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch
  const result: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key]
    else result[key] = applyMergePatch(result[key], value)
  }
  return result
}

/**
 * The PATCH body schema for a PUT body schema: every field optional and nullable (null
 * removes it), plus the read-only fields of the GET output, accepted and ignored, so that a
 * client may send back what it read. Unknown fields stay errors.
 */
export function mergePatchSchema(put: TObject, readOnly: readonly string[]): TObject {
  const properties: Record<string, TSchema> = {}
  for (const [name, schema] of Object.entries(put.properties)) {
    properties[name] = Type.Optional(Type.Union([schema as TSchema, Type.Null()]))
  }
  for (const name of readOnly) properties[name] ??= Type.Optional(Type.Unknown({ readOnly: true }))
  return Type.Object(properties, { additionalProperties: false })
}

/** Drops the read-only fields from a patch before it is applied. */
export function withoutReadOnly(patch: Record<string, unknown>, readOnly: readonly string[]): Record<string, unknown> {
  const copy = { ...patch }
  for (const name of readOnly) delete copy[name]
  return copy
}
