/** One run: summary cards, evaluation, predictions, rollouts, training terms, config. */
import type { EvaluationRecord } from '../../train/evaluate.js';
import type { MetricsRecord } from '../../train/metrics.js';
import type { RunSnapshot } from '../run-data.js';
import { COLORS, destroyPlots, lineChart, type SeriesSpec } from './charts.js';
import { el, safeSvg, section, table } from './dom.js';
import { fmt, fmtDuration, hexToRgba, positiveOnly, smoothSeries } from './format.js';

const SPECIAL_KEYS = new Set(['step', 'time_s', 'grad_norm', 'steps_per_s']);

export function scoreOf(record: EvaluationRecord): number {
  return record.normalized_score !== null ? record.normalized_score : record.mean_return;
}

export function scoreName(records: readonly EvaluationRecord[]): string {
  return records.length > 0 && records[0]?.normalized_score === null ? 'mean return' : 'normalized score';
}

function flattenConfig(config: Record<string, unknown> | null): string[][] {
  const rows: string[][] = [];
  for (const [key, value] of Object.entries(config ?? {})) {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [inner, innerValue] of Object.entries(value)) rows.push([`${key}.${inner}`, String(JSON.stringify(innerValue))]);
    } else rows.push([key, String(JSON.stringify(value))]);
  }
  return rows;
}

const text = (value: unknown, fallback = '?'): string => (value ? String(value) : fallback);

/** an argument of a recorded command line, quoted when it would not read back as one word */
const shellWord = (arg: string): string => (arg !== '' && !/[\s"'\\$`]/.test(arg) ? arg : JSON.stringify(arg));

function renderSummary(root: HTMLElement, run: RunSnapshot): void {
  const config = run.config ?? {};
  const metrics = run.metrics;
  const lastMetrics = metrics.length > 0 ? metrics[metrics.length - 1] : undefined;
  const step = lastMetrics ? lastMetrics.step : 0;
  const header = el('header', {}, [
    el('h1', { text: run.name }),
    el('p', { class: 'meta' }, [
      el('span', { class: `status status-${run.status.replace(/ /g, '-')}`, text: run.status }),
      el('span', { text: ` ${text(config.algo)} on ${text(config.env)} · dataset ${text(config.datasetId)} · seed ${String(config.seed)} · step ` }),
      el('span', { id: 'run-step', 'data-step': String(step), text: String(step) }),
      el('span', { text: ` / ${text(config.steps)}` }),
    ]),
  ]);
  root.appendChild(header);
  const cards = el('div', { class: 'cards' });
  const evaluations = run.evaluations;
  const name = scoreName(evaluations);
  const card = (label: string, value: string, detail?: string): void => {
    cards.appendChild(el('div', { class: 'card' }, [el('div', { class: 'label', text: label }), el('div', { class: 'value', text: value }), el('div', { class: 'detail', text: detail ?? '' })]));
  };
  const last = run.final ? run.final.last : evaluations[evaluations.length - 1];
  const best = run.final ? run.final.best : null;
  if (last) card(`last ${name}`, `${fmt(scoreOf(last), 1)} ± ${fmt(last.normalized_score !== null ? last.normalized_std : last.std_return, 1)}`, `step ${last.step} · ${last.headline}`);
  if (best) card(`best ${name}`, fmt(scoreOf(best), 1), `step ${best.step} (selected on the test task: optimistic)`);
  if (lastMetrics) card('wall time', fmtDuration(lastMetrics.time_s), 'evaluation and checkpoints included');
  const rates = metrics.map((m) => m.steps_per_s).filter((v): v is number => typeof v === 'number' && v > 0);
  if (rates.length > 0) card('throughput', `${fmt(rates.reduce((a, b) => a + b, 0) / rates.length, 1)} steps/s`, 'mean over logged intervals');
  root.appendChild(cards);
  renderLiveness(root, run);
  if (run.problems.length > 0) root.appendChild(el('p', { class: 'warning', text: run.problems.join('; ') }));
}

/** why a run that did not finish stopped, and an evaluation's progress while it runs */
function renderLiveness(root: HTMLElement, run: RunSnapshot): void {
  const liveness = run.liveness;
  if (!liveness) return; // a report written before heartbeats
  const heartbeat = liveness.heartbeat;
  const step = heartbeat ? ` at step ${heartbeat.step} of ${heartbeat.steps}` : '';
  if (run.status === 'stale') {
    root.appendChild(el('p', { class: 'warning', id: 'run-stale', text: `stale${step}: ${liveness.reason ?? 'no sign of life'}. The training process seems to have stopped (killed or crashed); \`stitch train --resume RUN_DIR\` continues from its last checkpoint.` }));
  } else if (run.status === 'interrupted') {
    root.appendChild(el('p', { class: 'warning', id: 'run-stopped', text: `interrupted${step}; \`stitch train --resume RUN_DIR\` continues it.` }));
  } else if (run.status === 'halted') {
    root.appendChild(el('p', { class: 'warning', id: 'run-stopped', text: `halted${step} on a non-finite value; see the run's log for the cause.` }));
  }
  const evaluation = heartbeat?.evaluation;
  if (run.status === 'in progress' && heartbeat?.phase === 'eval' && evaluation) {
    const progress = el('progress', { max: String(Math.max(1, evaluation.episodesTotal)), value: String(evaluation.episodesDone) });
    const words = [`evaluating at step ${heartbeat.step}: ${evaluation.episodesDone} / ${evaluation.episodesTotal} episodes`];
    if (evaluation.meanReturnSoFar !== null) words.push(`mean return so far ${fmt(evaluation.meanReturnSoFar, 2)}`);
    if (evaluation.etaSeconds !== null) words.push(`about ${fmtDuration(evaluation.etaSeconds)} left`);
    root.appendChild(el('p', { class: 'progress-line', id: 'eval-progress', 'data-done': String(evaluation.episodesDone), 'data-total': String(evaluation.episodesTotal) }, [
      progress, el('span', { text: ` ${words.join(' · ')}` }),
    ]));
  }
}

function renderSetup(root: HTMLElement, run: RunSnapshot): void {
  const grid = section(root, 'Config, dataset and provenance');
  grid.appendChild(el('div', { class: 'panel' }, [el('h3', { text: 'config.json' }), table(flattenConfig(run.config))]));
  const dataset = run.extras?.dataset;
  if (dataset) {
    grid.appendChild(el('div', { class: 'panel' }, [el('h3', { text: 'dataset' }), table([
      ['file', dataset.path], ['id', dataset.format], ['rows', dataset.rows], ['episodes', dataset.episodes],
      ['observation / action dims', `${dataset.obsDim} / ${dataset.actionDim}`],
      ['mean episode length', fmt(dataset.meanEpisodeLength, 1)],
      ['episode return mean ± std', `${fmt(dataset.returnMean, 2)} ± ${fmt(dataset.returnStd, 2)}`],
      ['episode return min / max', `${fmt(dataset.returnMin, 2)} / ${fmt(dataset.returnMax, 2)}`],
    ])]));
  }
  const sessions = run.provenance;
  if (sessions.length > 0) {
    grid.appendChild(el('div', { class: 'panel', id: 'run-provenance' }, [el('h3', { text: 'provenance' }), table(sessions.map((session) => [
      session.kind, session.startedAt, session.fromStep, session.stitchVersion, session.gitCommit ?? 'not a git checkout',
      session.backend ?? 'not recorded',
      session.commandLine === null ? 'from the API' : session.commandLine.map(shellWord).join(' '),
    ]), ['session', 'started', 'from step', 'Stitch', 'git commit', 'backend', 'command line'])]));
  }
  if (run.extras && run.extras.notes.length > 0) grid.appendChild(el('p', { class: 'note', text: run.extras.notes.join('; ') }));
}

function column(metrics: readonly MetricsRecord[], key: string): Array<number | null> {
  return metrics.map((m) => (typeof m[key] === 'number' ? m[key] as number : null));
}

/** how the training terms are drawn; kept while the dashboard re-renders a run */
export const termView = { logScale: false, smoothing: 0 };
export const SMOOTHING_WEIGHTS = [0, 0.6, 0.9, 0.99];

/** the log-scale and smoothing toggles above the training terms; `redraw` draws them again */
export function termControls(redraw: () => void): HTMLElement {
  const log = el('input', { type: 'checkbox', id: 'log-scale' });
  log.checked = termView.logScale;
  log.addEventListener('change', () => { termView.logScale = log.checked; redraw(); });
  const smoothing = el('select', { id: 'smoothing', 'aria-label': 'smoothing' }, SMOOTHING_WEIGHTS.map((w) => el('option', { value: String(w), text: w === 0 ? 'none' : String(w) })));
  smoothing.value = String(termView.smoothing);
  smoothing.addEventListener('change', () => { termView.smoothing = Number(smoothing.value); redraw(); });
  return el('div', { class: 'controls view-controls' }, [
    el('label', {}, [log, el('span', { text: ' log scale' })]),
    el('label', {}, [el('span', { text: 'smoothing ' }), smoothing]),
  ]);
}

/**
 * One training term as drawn with the current toggles: on a log scale values <= 0 become gaps;
 * smoothed, the raw values stay behind the average, thin and faint.
 */
export function termSeries(label: string, values: ReadonlyArray<number | null>, color: string): { series: SeriesSpec[]; hidden: number } {
  const drawn = termView.logScale ? positiveOnly(values) : values.slice();
  const hidden = drawn.filter((v) => v === null).length - values.filter((v) => v === null).length;
  if (termView.smoothing <= 0) return { series: [{ label, values: drawn, color }], hidden };
  return {
    series: [
      { label: `${label} (raw)`, values: drawn, color: hexToRgba(color, 0.3), width: 1 },
      { label: `${label} (smoothed ${termView.smoothing})`, values: smoothSeries(drawn, termView.smoothing), color, width: 2 },
    ],
    hidden,
  };
}

export function hiddenNote(hidden: number): string | undefined {
  return hidden > 0 ? `${hidden} value(s) <= 0 not drawn on the log scale` : undefined;
}

function renderTraining(root: HTMLElement, run: RunSnapshot, redraw: () => void): void {
  const metrics = run.metrics;
  const steps = metrics.map((m) => m.step);
  const keys: string[] = [];
  for (const m of metrics) for (const k of Object.keys(m)) if (!keys.includes(k)) keys.push(k);
  const lossKeys = keys.filter((k) => !SPECIAL_KEYS.has(k) && k !== 'lr' && !k.startsWith('lr_'));
  const lrKeys = keys.filter((k) => k === 'lr' || k.startsWith('lr_'));
  const losses = section(root, 'Training terms');
  losses.parentElement?.insertBefore(termControls(redraw), losses);
  if (run.metricsTotal > metrics.length) losses.appendChild(el('p', { class: 'note', text: `${metrics.length} of ${run.metricsTotal} logged records drawn (evenly spaced, the last included)` }));
  lossKeys.forEach((key, i) => {
    const { series, hidden } = termSeries(key, column(metrics, key), COLORS[i % COLORS.length] as string);
    const caption = hiddenNote(hidden);
    lineChart(losses, { id: `term-${key}`, title: key, xLabel: 'step', yLabel: key, x: steps, series, logScale: termView.logScale, ...(caption ? { caption } : {}) });
  });
  const optimisation = section(root, 'Optimisation');
  lineChart(optimisation, { id: 'lr', title: 'learning rate', xLabel: 'step', yLabel: 'lr', x: steps,
    series: lrKeys.map((key, i) => ({ label: key, values: column(metrics, key), color: COLORS[i % COLORS.length] as string })) });
  lineChart(optimisation, { id: 'grad-norm', title: 'gradient norm (before clipping)', xLabel: 'step', yLabel: 'global norm', x: steps,
    series: [{ label: 'grad_norm', values: column(metrics, 'grad_norm'), color: COLORS[3] as string }] });
  const throughput = section(root, 'Throughput');
  lineChart(throughput, { id: 'steps-per-s', title: 'throughput (updates only)', xLabel: 'step', yLabel: 'steps/s', x: steps,
    series: [{ label: 'steps/s', values: column(metrics, 'steps_per_s'), color: COLORS[2] as string }] });
  lineChart(throughput, { id: 'wall-time', title: 'wall time', xLabel: 'step', yLabel: 'seconds', x: steps,
    series: [{ label: 'time_s', values: column(metrics, 'time_s'), color: COLORS[4] as string }] });
}

function renderEvaluation(root: HTMLElement, run: RunSnapshot): void {
  const evaluations = run.evaluations;
  const grid = section(root, 'Evaluation');
  const name = scoreName(evaluations);
  const steps = evaluations.map((e) => e.step);
  const normalized = evaluations.length > 0 && evaluations[0]?.normalized_score !== null;
  const scores = evaluations.map(scoreOf);
  const spread = evaluations.map((e) => (normalized ? e.normalized_std ?? 0 : e.std_return));
  const last = evaluations.length - 1;
  let best = -1;
  evaluations.forEach((e, i) => { if (best < 0 || scoreOf(e) > scoreOf(evaluations[best] as EvaluationRecord)) best = i; });
  const final = run.final;
  if (final) evaluations.forEach((e, i) => { if (e.step === final.best.step) best = i; });
  const color = (i: number): string => COLORS[i] as string;
  lineChart(grid, {
    id: 'eval-score', title: `${name} over training (± std over episodes)`, xLabel: 'step', yLabel: name, x: steps,
    caption: evaluations.length > 0 ? `last: ${fmt(scores[last], 1)} at step ${steps[last]} · best: ${fmt(scores[best], 1)} at step ${steps[best]}` : '',
    series: [
      { label: evaluations[0]?.headline ?? name, values: scores, color: color(0), width: 2 },
      { label: '+std', values: scores.map((s, i) => s + (spread[i] as number)), color: color(0), band: true },
      { label: '-std', values: scores.map((s, i) => s - (spread[i] as number)), color: color(0), band: true },
      { label: 'last', values: scores.map((s, i) => (i === last ? s : null)), color: color(3), pointsOnly: true },
      { label: 'best', values: scores.map((s, i) => (i === best ? s : null)), color: color(2), pointsOnly: true },
    ],
    bands: [{ upper: 1, lower: 2, color: color(0) }],
  });
  const conditions = evaluations[0]?.conditions ?? [];
  if (conditions.length > 1) {
    lineChart(grid, { id: 'eval-conditions', title: 'mean return per condition', xLabel: 'step', yLabel: 'return', x: steps,
      series: conditions.map((c, ci) => ({
        label: c.label, values: evaluations.map((e) => e.conditions[ci]?.mean_return ?? null), color: COLORS[ci % COLORS.length] as string,
      })) });
  }
  const targeted = evaluations.length > 0 ? (evaluations[last] as EvaluationRecord).conditions.filter((c) => typeof c.target_return === 'number') : [];
  if (targeted.length > 0) {
    const sorted = targeted.slice().sort((a, b) => (a.target_return as number) - (b.target_return as number));
    const targets = sorted.map((c) => c.target_return as number);
    lineChart(grid, {
      id: 'return-calibration', title: `achieved vs requested return (step ${steps[last]}, ± std)`, xLabel: 'requested return', yLabel: 'achieved return', x: targets,
      caption: 'On the dashed line the policy gets the return it is asked for.',
      series: [
        { label: 'achieved', values: sorted.map((c) => c.mean_return), color: color(1), width: 2 },
        { label: '+std', values: sorted.map((c) => c.mean_return + c.std_return), color: color(1), band: true },
        { label: '-std', values: sorted.map((c) => c.mean_return - c.std_return), color: color(1), band: true },
        { label: 'requested', values: targets, color: '#555555', dash: [6, 4] },
        { label: 'achieved (points)', values: sorted.map((c) => c.mean_return), color: color(1), pointsOnly: true },
      ],
      bands: [{ upper: 1, lower: 2, color: color(1) }],
    });
    grid.appendChild(el('div', { class: 'panel' }, [table(sorted.map((c) => [
      c.label, fmt(c.target_return, 1), `${fmt(c.mean_return, 2)} ± ${fmt(c.std_return, 2)}`, fmt(c.normalized_score, 1),
    ]), ['condition', 'requested', 'achieved', 'normalized'])]));
  }
}

function renderPredictions(root: HTMLElement, run: RunSnapshot): void {
  const extras = run.extras;
  if (!extras || !extras.rollouts || !extras.dataset) return;
  const episodes = extras.rollouts.episodes.filter((e) => typeof e.predictedReturn === 'number');
  if (episodes.length === 0) return;
  const grid = section(root, 'Predicted max return');
  const percentiles = extras.dataset.returnPercentiles.map((_, p) => p);
  const predicted = episodes.map((e) => e.predictedReturn as number);
  const achieved = episodes.map((e) => e.return);
  const meanOf = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  const meanPredicted = meanOf(predicted);
  const meanAchieved = meanOf(achieved);
  lineChart(grid, {
    id: 'predicted-return', title: 'predicted return at t = 0 against the dataset\u2019s episode returns', xLabel: 'percentile of dataset episodes', yLabel: 'return', x: percentiles,
    caption: `Reinformer predicts the in-distribution maximal return; mean prediction ${fmt(meanPredicted, 2)}, mean achieved ${fmt(meanAchieved, 2)} over ${episodes.length} episodes of the final policy.`,
    series: [
      { label: 'dataset episode returns', values: extras.dataset.returnPercentiles, color: COLORS[7] as string, width: 2 },
      { label: 'predicted (mean)', values: percentiles.map(() => meanPredicted), color: COLORS[4] as string, dash: [6, 4] },
      { label: 'achieved (mean)', values: percentiles.map(() => meanAchieved), color: COLORS[2] as string, dash: [2, 3] },
    ],
  });
  grid.appendChild(el('div', { class: 'panel' }, [table(episodes.map((e) => [
    e.episode, fmt(e.predictedReturn, 2), fmt(e.return, 2), e.length,
  ]), ['episode', 'predicted', 'achieved', 'length'])]));
}

function renderRollouts(root: HTMLElement, run: RunSnapshot): void {
  const extras = run.extras;
  if (!extras || !extras.maze || !extras.rollouts) return;
  const maze = extras.maze;
  const episodes = extras.rollouts.episodes.filter((e): e is typeof e & { points: number[] } => Array.isArray(e.points) && e.points.length > 0);
  const grid = section(root, 'Rollouts');
  const drawing = el('figure', { class: 'chart maze', 'data-chart': 'maze-rollouts', 'data-points': String(episodes.length) }, [
    el('figcaption', { text: `${episodes.length} episodes of ${extras.rollouts.condition} (policy at step ${String(extras.policyStep)}, evaluation seed ${extras.rollouts.seed})` }),
    el('div', { class: 'svg' }, [safeSvg(maze.rolloutsSvg)]),
  ]);
  grid.appendChild(drawing);
  const first = episodes[0];
  if (first === undefined) return;
  // the player: one episode at a time, a dot moving along its path with the trail behind it
  const player = el('figure', { class: 'chart maze player', 'data-chart': 'rollout-player', 'data-points': String(first.points.length / 2) });
  player.appendChild(el('figcaption', { text: 'rollout player' }));
  const svg = safeSvg(maze.backgroundSvg);
  player.appendChild(el('div', { class: 'svg' }, [svg]));
  const ns = 'http://www.w3.org/2000/svg';
  const trail = document.createElementNS(ns, 'polyline');
  trail.setAttribute('fill', 'none'); trail.setAttribute('stroke', COLORS[0] as string); trail.setAttribute('stroke-width', '2');
  const dot = document.createElementNS(ns, 'circle');
  dot.setAttribute('r', '6'); dot.setAttribute('fill', COLORS[3] as string);
  svg.appendChild(trail); svg.appendChild(dot);
  const select = el('select', { 'aria-label': 'episode' }, episodes.map((e, i) => el('option', { value: String(i), text: `episode ${e.episode} (return ${fmt(e.return, 1)}, ${e.length} steps)` })));
  const slider = el('input', { type: 'range', min: '0', max: '0', value: '0', 'aria-label': 'time step' });
  const button = el('button', { type: 'button', text: 'play' });
  const label = el('span', { class: 'note' });
  player.appendChild(el('div', { class: 'controls' }, [select, button, slider, label]));
  grid.appendChild(player);
  let current = first;
  let timer: ReturnType<typeof setInterval> | null = null;
  const toPicture = (points: readonly number[], t: number): [number, number] => [
    ((points[2 * t + 1] as number) + maze.offset) * maze.cellSize, ((points[2 * t] as number) + maze.offset) * maze.cellSize,
  ];
  const show = (t: number): void => {
    const coords: string[] = [];
    for (let k = 0; k <= t; k++) coords.push(toPicture(current.points, k).map((v) => v.toFixed(1)).join(','));
    trail.setAttribute('points', coords.join(' '));
    const at = toPicture(current.points, t);
    dot.setAttribute('cx', String(at[0])); dot.setAttribute('cy', String(at[1]));
    slider.value = String(t);
    label.textContent = `t = ${t}`;
  };
  const choose = (index: number): void => {
    current = episodes[index] ?? first;
    slider.max = String(current.points.length / 2 - 1);
    show(0);
  };
  const stop = (): void => {
    if (timer !== null) { clearInterval(timer); timer = null; button.textContent = 'play'; }
  };
  select.addEventListener('change', () => { stop(); choose(Number(select.value)); });
  slider.addEventListener('input', () => { stop(); show(Number(slider.value)); });
  button.addEventListener('click', () => {
    if (timer !== null) { stop(); return; }
    button.textContent = 'pause';
    timer = setInterval(() => {
      const t = Number(slider.value) + 1;
      if (t > Number(slider.max)) { stop(); return; }
      show(t);
    }, 30);
  });
  choose(0);
}

export interface RunViewOptions {
  /** where the run's report.html is served (the dashboard) */
  reportLink?: string;
}

export function renderRun(root: HTMLElement, run: RunSnapshot, options: RunViewOptions = {}): void {
  destroyPlots();
  root.textContent = '';
  renderSummary(root, run);
  if (options.reportLink) root.insertBefore(el('p', {}, [el('a', { href: options.reportLink, text: 'open report.html' })]), root.children[1] ?? null);
  renderEvaluation(root, run);
  renderPredictions(root, run);
  renderRollouts(root, run);
  renderTraining(root, run, () => renderRun(root, run, options));
  renderSetup(root, run);
}
