import type { TSchema } from '@sinclair/typebox';

/** Deep copy of a schema without the given keywords (Symbol keys, TypeBox's bookkeeping, are dropped too). */
function without<T extends TSchema>(schema: T, keywords: ReadonlySet<string>): T {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (typeof value !== 'object' || value === null) return value;
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => !keywords.has(key))
        .map(([key, child]) => [key, strip(child)]),
    );
  };
  return strip(schema) as T;
}

/** The config schema's own keywords (`secret`, `errorMessage`) mean nothing to the request validator. */
export const forRequests = <T extends TSchema>(schema: T): T =>
  without(schema, new Set(['secret', 'errorMessage']));

/**
 * A PATCH body: the validator fills defaults in, so a partial body with defaults would reset every field it
 * leaves out. Without them, what is left out stays as it was.
 */
export const forPatches = <T extends TSchema>(schema: T): T =>
  without(schema, new Set(['secret', 'errorMessage', 'default']));
