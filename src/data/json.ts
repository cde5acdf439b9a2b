/**
 * JSON as Python's json module writes it: bare NaN, Infinity and -Infinity are allowed (Minari's
 * metadata.json has them in its space bounds). Strict JSON.parse rejects those tokens, so they are
 * swapped for marker strings outside string literals and swapped back by the reviver.
 */
/** Parsed marker string (it starts with a NUL character, which no real metadata string does) → number. */
const MARKER_VALUES = new Map<string, number>([
  ['\u0000stitch:NaN', Number.NaN],
  ['\u0000stitch:Infinity', Number.POSITIVE_INFINITY],
  ['\u0000stitch:-Infinity', Number.NEGATIVE_INFINITY],
]);

/** A string literal (kept as it is) or one of Python's non-finite tokens (swapped for a marker). */
const TOKENS = /"[^"\\]*(?:\\.[^"\\]*)*"|-Infinity|Infinity|NaN/g;

export function parsePythonJson(text: string): unknown {
  // One regular-expression pass: linear in the text and without per-character string building.
  const strict = text.replace(TOKENS, (token) => (token.startsWith('"') ? token : `"\\u0000stitch:${token}"`));
  return JSON.parse(strict, (_key, value: unknown) => (typeof value === 'string' && MARKER_VALUES.has(value) ? MARKER_VALUES.get(value) : value));
}

/** The inverse: writes non-finite numbers as Python does, so Minari and Python read them back. */
export function stringifyPythonJson(value: unknown, indent = 2): string {
  const text = JSON.stringify(value, (_key, item: unknown) => (typeof item === 'number' && !Number.isFinite(item) ? `\u0000stitch:${Number.isNaN(item) ? 'NaN' : item > 0 ? 'Infinity' : '-Infinity'}` : item), indent);
  return text.replace(/"\\u0000stitch:(NaN|Infinity|-Infinity)"/g, '$1');
}
