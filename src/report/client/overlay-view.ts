/** Several runs on the same plots: the evaluation score and every training term, one line per run. */
import type { RunSnapshot } from '../run-data.js';
import { COLORS, destroyPlots, lineChart, type SeriesSpec } from './charts.js';
import { el, section } from './dom.js';
import { alignSeries } from './format.js';
import { hiddenNote, scoreName, scoreOf, termControls, termSeries, termView } from './run-view.js';

const SPECIAL_KEYS = new Set(['step', 'time_s', 'grad_norm', 'steps_per_s']);

export function renderOverlay(root: HTMLElement, runs: readonly RunSnapshot[]): void {
  destroyPlots();
  root.textContent = '';
  const colorOf = (i: number): string => COLORS[i % COLORS.length] as string;
  root.appendChild(el('header', {}, [
    el('h1', { text: `Overlay of ${runs.length} runs` }),
    el('p', { class: 'meta' }, runs.map((run, i) => {
      const entry = el('span', { class: 'legend-run', text: `● ${run.name} (${run.status}) ` });
      entry.style.color = colorOf(i);
      return entry;
    })),
  ]));

  const evaluation = section(root, 'Evaluation');
  const allEvaluations = runs.flatMap((run) => run.evaluations);
  const scores = alignSeries(runs.map((run) => ({ x: run.evaluations.map((e) => e.step), y: run.evaluations.map(scoreOf) })));
  lineChart(evaluation, {
    id: 'overlay-eval-score', title: `${scoreName(allEvaluations)} over training`, xLabel: 'step', yLabel: scoreName(allEvaluations), x: scores.x, spanGaps: true,
    series: runs.map((run, i) => ({ label: run.name, values: scores.ys[i] ?? [], color: colorOf(i), width: 2 })),
  });

  const keys: string[] = [];
  for (const run of runs) for (const m of run.metrics) for (const k of Object.keys(m)) if (!keys.includes(k)) keys.push(k);
  const terms = section(root, 'Training terms');
  terms.parentElement?.insertBefore(termControls(() => renderOverlay(root, runs)), terms);
  for (const key of keys.filter((k) => !SPECIAL_KEYS.has(k) && k !== 'lr' && !k.startsWith('lr_'))) {
    const aligned = alignSeries(runs.map((run) => ({ x: run.metrics.map((m) => m.step), y: run.metrics.map((m) => (typeof m[key] === 'number' ? m[key] as number : null)) })));
    let hidden = 0;
    const series: SeriesSpec[] = runs.flatMap((run, i) => {
      const drawn = termSeries(run.name, aligned.ys[i] ?? [], colorOf(i));
      hidden += drawn.hidden;
      return drawn.series;
    });
    const caption = hiddenNote(hidden);
    lineChart(terms, { id: `overlay-term-${key}`, title: key, xLabel: 'step', yLabel: key, x: aligned.x, series, spanGaps: true, logScale: termView.logScale, ...(caption ? { caption } : {}) });
  }
}

