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

export function parsePythonJson(text: string): unknown {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const char = text[i]!;
    if (char === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const token = text.startsWith('-Infinity', i) ? '-Infinity' : text.startsWith('Infinity', i) ? 'Infinity' : text.startsWith('NaN', i) ? 'NaN' : undefined;
    if (token !== undefined) {
      out += `"\\u0000stitch:${token}"`;
      i += token.length;
      continue;
    }
    out += char;
    i++;
  }
  return JSON.parse(out, (_key, value: unknown) => (typeof value === 'string' && MARKER_VALUES.has(value) ? MARKER_VALUES.get(value) : value));
}

/** The inverse: writes non-finite numbers as Python does, so Minari and Python read them back. */
export function stringifyPythonJson(value: unknown, indent = 2): string {
  const text = JSON.stringify(value, (_key, item: unknown) => (typeof item === 'number' && !Number.isFinite(item) ? `\u0000stitch:${Number.isNaN(item) ? 'NaN' : item > 0 ? 'Infinity' : '-Infinity'}` : item), indent);
  return text.replace(/"\\u0000stitch:(NaN|Infinity|-Infinity)"/g, '$1');
}
