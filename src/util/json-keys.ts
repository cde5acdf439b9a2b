/**
 * Stitch's JSON convention (docs/cli.md): every JSON object the CLI prints or writes uses
 * camelCase keys. Files written before the convention used snake_case for some keys
 * (eval.json's normalized_score); readers accept both spellings through `fieldOf`.
 */

/** normalized_score -> normalizedScore; keys without underscores are returned as they are */
export function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

/** normalizedScore -> normalized_score (the older spelling readers still accept) */
export function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** a copy of `value` with every object key, at any depth, in camelCase */
export function camelCaseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelCaseKeys);
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [camelCase(key), camelCaseKeys(inner)]));
}

/** `record[key]` under its camelCase name, else under the older snake_case name */
export function fieldOf(record: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : record[snakeCase(key)];
}
