/**
 * Number formatting for the report pages. No DOM here: the Node tests import this module
 * directly, and the page bundle includes it.
 */

/** a value for a table or card: exponent form when tiny or huge, else fixed digits */
export function fmt(value: unknown, digits?: number): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(2);
  return value.toFixed(digits === undefined ? (abs >= 100 ? 1 : 3) : digits);
}

/** three significant digits, so small learning rates do not all read 0.001 */
export function tickLabel(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  return abs < 1e-2 || abs >= 1e5 ? value.toExponential(1) : String(Number(value.toPrecision(3)));
}

export function fmtDuration(seconds: unknown): string {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '–';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function hexToRgba(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}
