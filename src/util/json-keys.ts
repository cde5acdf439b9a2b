/**
 * Stitch's JSON convention (docs/cli.md): every JSON object the CLI prints or writes uses
 * camelCase keys. Files written before the convention used snake_case for some keys
 * (eval.json's normalized_score); readers accept both spellings, through `fieldOf` (one field) or
 * `snakeCaseKeys` (a whole record, in the older shape).
 */

/** normalized_score -> normalizedScore; keys without underscores are returned as they are */
export function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

/** normalizedScore -> normalized_score (the older spelling readers still accept) */
export function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** normalized_score -> normalizedScore, in the type system */
type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;

/** the type of `camelCaseKeys(value)` for a value of type T */
export type CamelCased<T> = T extends readonly (infer Item)[]
  ? CamelCased<Item>[]
  : T extends ArrayBufferView
    ? T
    : T extends object
      ? { [K in keyof T as K extends string ? CamelCase<K> : K]: CamelCased<T[K]> }
      : T;

/** renames the keys of `value` and of what it holds, `depth` levels of arrays and objects below it */
function renameKeys(value: unknown, rename: (key: string) => string, depth: number): unknown {
  if (Array.isArray(value)) return depth > 0 ? value.map((item) => renameKeys(item, rename, depth - 1)) : value;
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [rename(key), depth > 0 ? renameKeys(inner, rename, depth - 1) : inner]));
}

/** a copy of `value` with every object key, at any depth, in camelCase */
export function camelCaseKeys<T>(value: T): CamelCased<T> {
  return renameKeys(value, camelCase, Number.POSITIVE_INFINITY) as CamelCased<T>;
}

/**
 * a copy of `value` with its object keys in snake_case: how a reader turns a record of either
 * spelling into the in-memory shape of the older one (idempotent on snake_case records). Only
 * `depth` levels of arrays and objects below `value` are renamed (0: its own keys), so a reader
 * of files from elsewhere bounds its work and its recursion to the shape it expects.
 */
export function snakeCaseKeys(value: unknown, depth = Number.POSITIVE_INFINITY): unknown {
  return renameKeys(value, snakeCase, depth);
}

/** `record[key]` under its camelCase name, else under the older snake_case name */
export function fieldOf(record: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : record[snakeCase(key)];
}
