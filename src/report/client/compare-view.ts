/** Several runs: final scores per group (IQM with its bootstrap interval) and curves over training. */
import type { Comparison } from '../compare.js';
import { COLORS, destroyPlots, lineChart } from './charts.js';
import { el, section, table } from './dom.js';
import { fmt } from './format.js';

export function renderComparison(root: HTMLElement, comparison: Comparison): void {
  destroyPlots();
  root.appendChild(el('header', {}, [el('h1', { text: `Comparison of ${comparison.runs.length} runs` }),
    el('p', { class: 'meta', text: `final score: each run\u2019s last evaluation (${comparison.scoreName}); IQM with a ${Math.round(comparison.level * 100)}% percentile bootstrap interval over runs (${comparison.resamples} resamples)` })]));
  if (comparison.skipped.length > 0) {
    root.appendChild(el('p', { class: 'warning', id: 'skipped-runs', text: `skipped (unfinished): ${comparison.skipped.map((r) => `${r.name} (${r.reason})`).join('; ')}` }));
  }
  const grid = section(root, 'Final scores');
  const differing = comparison.differingFields;
  const level = Math.round(comparison.level * 100);
  grid.appendChild(el('div', { class: 'panel wide' }, [table(comparison.groups.map((g) => [
    g.label,
    g.singleRun ? '1 (single run)' : g.runs.length,
    `${fmt(g.mean, 1)} ± ${fmt(g.std, 1)}`,
    g.singleRun ? `${fmt(g.iqm, 1)} (one run: no interval)` : `${fmt(g.iqm, 1)} [${fmt(g.iqmLow, 1)}, ${fmt(g.iqmHigh, 1)}]`,
    g.runs.map((r) => fmt(r.final, 1)).join(', '),
    ...g.settings,
  ]), ['group', 'runs', 'mean ± std', `IQM [${level}% CI]`, 'per run', ...differing])]));
  if (differing.length > 0) grid.appendChild(el('p', { class: 'note', id: 'differing-fields', text: `groups are runs with the same config except the seed; they differ in ${differing.join(', ')}` }));
  const indices = comparison.groups.map((_, i) => i);
  lineChart(grid, {
    id: 'final-scores', title: 'final score per group: IQM with its bootstrap interval as an error bar, mean', xLabel: 'group', yLabel: comparison.scoreName, x: indices,
    categories: comparison.groups.map((g) => g.shortLabel),
    series: [
      { label: 'IQM', values: comparison.groups.map((g) => g.iqm), color: COLORS[0] as string, pointsOnly: true },
      { label: 'mean', values: comparison.groups.map((g) => g.mean), color: COLORS[1] as string, pointsOnly: true, size: 6 },
    ],
    errorBars: { low: comparison.groups.map((g) => g.iqmLow), high: comparison.groups.map((g) => g.iqmHigh), color: COLORS[0] as string },
  });
  const curves = section(root, 'Evaluation over training (mean ± std over runs)');
  comparison.groups.forEach((g, gi) => {
    const color = COLORS[gi % COLORS.length] as string;
    lineChart(curves, {
      id: `curve-${gi}`, title: g.label, xLabel: 'step', yLabel: comparison.scoreName, x: g.curve.steps,
      series: [
        { label: 'mean', values: g.curve.mean, color, width: 2 },
        { label: '+std', values: g.curve.mean.map((m, i) => m + (g.curve.std[i] as number)), color, band: true },
        { label: '-std', values: g.curve.mean.map((m, i) => m - (g.curve.std[i] as number)), color, band: true },
        ...g.runs.map((r, ri) => ({ label: r.name, values: r.curve, color: COLORS[(gi + ri + 1) % COLORS.length] as string, width: 0.8, dash: [3, 3] })),
      ],
      bands: [{ upper: 1, lower: 2, color }],
    });
  });
  const runs = section(root, 'Runs');
  runs.appendChild(el('div', { class: 'panel wide' }, [table(comparison.runs.map((r) => [
    r.name, r.algo, r.env, r.seed, r.step, fmt(r.final, 1), fmt(r.best, 1),
  ]), ['run', 'algorithm', 'env', 'seed', 'last step', 'final', 'best'])]));
}
