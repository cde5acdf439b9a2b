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

/** the smallest gap between neighbouring ticks */
function smallestGap(ticks: readonly number[]): number {
  const sorted = ticks.slice().sort((a, b) => a - b);
  let gap = Number.POSITIVE_INFINITY;
  for (let i = 1; i < sorted.length; i++) {
    const d = (sorted[i] as number) - (sorted[i - 1] as number);
    if (d > 0 && d < gap) gap = d;
  }
  return gap;
}

/**
 * Labels for an axis's ticks: `tickLabel`'s three significant digits when they tell the ticks
 * apart, otherwise as many digits as the tick spacing needs (an entropy between 2.8400 and
 * 2.8410 read "2.84" on every tick).
 */
export function tickLabels(ticks: ReadonlyArray<number | null>, increment?: number): string[] {
  // a logarithmic axis leaves some ticks unlabelled (null)
  const shown = ticks.filter((t): t is number => t !== null && Number.isFinite(t));
  const labelAll = (label: (t: number) => string): string[] => ticks.map((t) => (t === null || !Number.isFinite(t) ? '' : label(t)));
  const distinct = (labels: string[]): boolean => new Set(labels.filter((l) => l !== '')).size === shown.length;
  const plain = labelAll(tickLabel);
  if (distinct(plain)) return plain;
  const spacing = increment !== undefined && increment > 0 ? increment : smallestGap(shown);
  if (!Number.isFinite(spacing)) return plain;
  const magnitude = Math.max(...shown.map(Math.abs));
  const exponential = magnitude < 1e-2 || magnitude >= 1e5;
  let digits = exponential
    ? Math.max(1, Math.ceil(Math.log10(magnitude / spacing) - 1e-9))
    : Math.max(0, Math.ceil(-Math.log10(spacing) - 1e-9));
  for (; digits <= 15; digits++) {
    const labels = labelAll((t) => (t === 0 ? '0' : exponential ? t.toExponential(digits) : t.toFixed(digits)));
    if (distinct(labels)) return labels;
  }
  return labelAll(String);
}

/**
 * Exponential moving average with TensorBoard's debiasing (the first points are not pulled
 * toward zero): weight 0 returns the values, 0.9 averages over about ten points. Missing values
 * stay missing and do not enter the average.
 */
export function smoothSeries(values: ReadonlyArray<number | null>, weight: number): Array<number | null> {
  if (weight <= 0) return values.slice();
  let average = 0;
  let count = 0;
  return values.map((value) => {
    if (value === null || !Number.isFinite(value)) return null;
    average = weight * average + (1 - weight) * value;
    count += 1;
    return average / (1 - weight ** count);
  });
}

/** values a logarithmic axis can draw: zero and negative values become gaps */
export function positiveOnly(values: ReadonlyArray<number | null>): Array<number | null> {
  return values.map((value) => (value !== null && value > 0 && Number.isFinite(value) ? value : null));
}

/**
 * Chart width for a grid `available` pixels wide: as many columns of at least `minWidth` as fit
 * (charts used to stay 540 px wide in one narrow column whatever the window).
 */
export function chartWidth(available: number, minWidth = 420, maxWidth = 760, gap = 12): number {
  const usable = Math.max(280, available);
  // each figure adds 20 px of padding around its chart
  const columns = Math.max(1, Math.floor((usable + gap) / (minWidth + 20 + gap)));
  const width = Math.floor((usable - gap * (columns - 1)) / columns) - 20;
  return Math.max(280, Math.min(maxWidth, width));
}

/**
 * Several (x, y) series on one x axis: the sorted union of their x values, each series with
 * null where it has no value (runs log at different steps).
 */
export function alignSeries(tables: ReadonlyArray<{ x: readonly number[]; y: ReadonlyArray<number | null> }>): { x: number[]; ys: Array<Array<number | null>> } {
  const x = [...new Set(tables.flatMap((table) => table.x))].sort((a, b) => a - b);
  const position = new Map(x.map((value, index) => [value, index]));
  const ys = tables.map((table) => {
    const y: Array<number | null> = new Array<number | null>(x.length).fill(null);
    table.x.forEach((value, i) => { y[position.get(value) as number] = table.y[i] ?? null; });
    return y;
  });
  return { x, ys };
}
