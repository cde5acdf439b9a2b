/** Line charts drawn with uPlot (inlined in the page as the global `uPlot`). */
import { el, figure } from './dom.js';
import { chartWidth, hexToRgba, tickLabels } from './format.js';

export const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];

export interface SeriesSpec {
  label: string;
  values: ReadonlyArray<number | null>;
  color: string;
  dash?: number[];
  /** markers only, no line */
  pointsOnly?: boolean;
  size?: number;
  width?: number;
  /** an edge of a shaded band (drawn thin, not counted as data) */
  band?: boolean;
}

export interface ChartSpec {
  id: string;
  title: string;
  caption?: string;
  xLabel: string;
  yLabel: string;
  x: readonly number[];
  series: SeriesSpec[];
  /** indices into `series` */
  bands?: Array<{ upper: number; lower: number; color: string }>;
  /** names of x = 0, 1, ... */
  categories?: string[];
  /** a logarithmic y axis (the series hold only positive values) */
  logScale?: boolean;
  /** draw lines across missing values (runs logged at different steps, overlaid) */
  spanGaps?: boolean;
  /** controls shown under the chart */
  controls?: HTMLElement;
  /** a vertical bar with caps from low[i] to high[i] at each x (uPlot has none); the figure's data-error-bars counts them */
  errorBars?: { low: ReadonlyArray<number | null>; high: ReadonlyArray<number | null>; color: string };
}

function finiteValues(values: ReadonlyArray<number | null>): number[] {
  return values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
}

/** draws `bars` over the series and records how many were drawn on the figure */
function drawErrorBars(u: uPlot, x: readonly number[], bars: NonNullable<ChartSpec['errorBars']>, fig: HTMLElement): void {
  const ctx = u.ctx;
  const cap = 6 * devicePixelRatio;
  let drawn = 0;
  ctx.save();
  ctx.strokeStyle = bars.color;
  ctx.lineWidth = 2 * devicePixelRatio;
  x.forEach((xValue, i) => {
    const low = bars.low[i];
    const high = bars.high[i];
    if (typeof low !== 'number' || typeof high !== 'number' || !Number.isFinite(low) || !Number.isFinite(high)) return;
    const cx = u.valToPos(xValue, 'x', true);
    const top = u.valToPos(high, 'y', true);
    const bottom = u.valToPos(low, 'y', true);
    ctx.beginPath();
    ctx.moveTo(cx, top); ctx.lineTo(cx, bottom);
    ctx.moveTo(cx - cap, top); ctx.lineTo(cx + cap, top);
    ctx.moveTo(cx - cap, bottom); ctx.lineTo(cx + cap, bottom);
    ctx.stroke();
    drawn += 1;
  });
  ctx.restore();
  fig.setAttribute('data-error-bars', String(drawn));
}

let plots: Array<{ plot: uPlot; parent: HTMLElement }> = [];

export function destroyPlots(): void {
  for (const { plot } of plots) plot.destroy();
  plots = [];
}

let resizeTimer: ReturnType<typeof setTimeout> | undefined;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    for (const { plot, parent } of plots) plot.setSize({ width: chartWidth(parent.clientWidth || 560), height: plot.height });
  }, 150);
});

export function lineChart(parent: HTMLElement, spec: ChartSpec): void {
  const f = figure(parent, spec.id, spec.title, spec.caption);
  let points = 0;
  for (const s of spec.series) {
    if (s.band) continue;
    for (const v of s.values) if (typeof v === 'number' && Number.isFinite(v)) points += 1;
  }
  f.fig.setAttribute('data-points', String(points));
  f.fig.setAttribute('data-series', String(spec.series.filter((s) => !s.band).length));
  if (spec.x.length === 0 || points === 0) {
    f.body.appendChild(el('p', { class: 'empty', text: 'no data yet' }));
    return;
  }
  const width = chartWidth(parent.clientWidth || 560);
  const series: uPlot.Series[] = [{ label: spec.xLabel }, ...spec.series.map((s) => {
    const options: uPlot.Series = { label: s.label, stroke: s.color, width: s.width || 1.5 };
    if (spec.spanGaps) options.spanGaps = true;
    if (s.dash) options.dash = s.dash;
    if (s.band) {
      options.width = 0.5;
      options.stroke = hexToRgba(s.color, 0.5);
      options.points = { show: false };
    }
    if (s.pointsOnly) {
      options.paths = () => null;
      options.points = { show: true, size: s.size || 9, fill: s.color, stroke: s.color };
    }
    return options;
  })];
  const bands: uPlot.Band[] = (spec.bands ?? []).map((b) => ({ series: [b.upper + 1, b.lower + 1], fill: hexToRgba(b.color, 0.18) }));
  const xAxis: uPlot.Axis = { label: spec.xLabel, size: 40 };
  const xScale: uPlot.Scale = { time: false };
  const categories = spec.categories;
  if (categories) {
    // one whole-number position per category, named on the axis
    xAxis.incrs = [1];
    xAxis.values = (_u, ticks) => ticks.map((t) => categories[t] ?? '');
    xScale.range = [-0.5, categories.length - 0.5];
  }
  const fig = f.fig;
  fig.setAttribute('data-scale', spec.logScale ? 'log' : 'linear');
  const yScale: uPlot.Scale = spec.logScale ? { distr: 3 } : {};
  const errorBars = spec.errorBars;
  if (errorBars && !spec.logScale) {
    // the y range must hold the whole bars, not only the points
    yScale.range = (_u, min, max) => {
      const lo = Math.min(min, ...finiteValues(errorBars.low));
      const hi = Math.max(max, ...finiteValues(errorBars.high));
      const pad = (hi - lo) * 0.1 || Math.abs(hi) * 0.1 || 1;
      return [lo - pad, hi + pad];
    };
  }
  const options: uPlot.Options = {
    width, height: 210,
    scales: { x: xScale, y: yScale },
    axes: [xAxis, {
      label: spec.yLabel, size: 60,
      values: (_u, ticks, _axis, _space, increment) => {
        const labels = tickLabels(ticks, spec.logScale ? undefined : increment);
        // read by the browser tests: the labels the axis shows
        fig.setAttribute('data-y-ticks', labels.filter((label) => label !== '').join('|'));
        return labels;
      },
    }],
    series, bands, legend: { live: false },
    hooks: {
      draw: [(u) => {
        fig.setAttribute('data-y-min', String(u.scales.y?.min));
        fig.setAttribute('data-y-max', String(u.scales.y?.max));
        if (errorBars) drawErrorBars(u, spec.x, errorBars, fig);
      }],
    },
  };
  const data = [spec.x, ...spec.series.map((s) => s.values)] as unknown as uPlot.AlignedData;
  plots.push({ plot: new uPlot(options, data, f.body), parent });
  if (spec.controls) fig.appendChild(spec.controls);
}
