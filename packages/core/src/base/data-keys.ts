/**
 * @module data-keys
 * Field names and keys come from data: they may be `constructor`,
 * `toString` or `__proto__`. Maps keyed by data are null-prototype objects
 * ({@link dict}) and lookups go through {@link own}, so such a name is just
 * a name and never reaches `Object.prototype`. Internal: not exported from
 * the package entry.
 */

/** An empty map keyed by data: no prototype, so every string is an ordinary key. */
export function dict<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}

/** `obj[key]` when `key` is an own property, else undefined (never an inherited member). */
export function own<V>(obj: Readonly<Record<string, V>> | undefined, key: string): V | undefined {
  return obj !== undefined && Object.hasOwn(obj, key) ? obj[key] : undefined;
}
