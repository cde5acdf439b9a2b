/**
 * `stitch sweep report`: the table a paper prints, per dataset and algorithm (and grid point), over
 * the seeds that have finished: mean ± sample std and the interquartile mean with a 95% percentile
 * bootstrap interval (src/report/stats.ts), for the last evaluation and for the best one (labelled:
 * the best is chosen on the evaluation episodes themselves, so it is optimistic). Scores are
 * normalized where the task has reference scores, else mean returns (the table says which).
 * Written as results.md, results.csv, results.json and the HTML comparison page (comparison.html).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareRuns, type Comparison } from '../report/compare.js';
import { renderPage } from '../report/page.js';
import { readRunSnapshot } from '../report/run-data.js';
import { bootstrapInterval, interquartileMean, mean, sampleStd } from '../report/stats.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { fieldOf } from '../util/json-keys.js';
import { isFinished } from './jobs.js';
import { readJobIndex, type JobIndex, type JobIndexEntry } from './prepare.js';
import { readFinalScores, readMetricsSummary, type MetricsSummaryRead } from './run-reading.js';
import { SweepError } from './spec.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
export const HELD_OUT_FILE = 'heldout.json';
const LEVEL = 0.95;
const RESAMPLES = 2000;

export interface ScoreSummary {
  mean: number;
  std: number;
  iqm: number;
  iqmLow: number;
  iqmHigh: number;
  perSeed: number[];
}

export interface ResultRow {
  dataset: string;
  algorithm: string;
  point: Record<string, unknown>;
  seeds: number[];
  /** jobs of this cell without a finished run yet */
  missing: number;
  last: ScoreSummary;
  best: ScoreSummary;
  trainSeconds: number;
  stepsPerSecond: number;
  /** held-out action MSE per seed, when the sweep names a held-out dataset */
  heldOut: number[] | null;
}

export interface SweepResults {
  name: string;
  scoreName: 'normalized score' | 'mean return';
  rows: ResultRow[];
}

interface FinishedRun {
  job: JobIndexEntry;
  last: number;
  best: number;
  normalized: boolean;
  seconds: number;
  rate: number;
}

function readFinished(job: JobIndexEntry, readMetrics: MetricsSummaryRead): FinishedRun {
  const scores = readFinalScores(job.runDir);
  const metrics = readMetrics(job.runDir);
  return { job, ...scores, seconds: metrics?.seconds ?? 0, rate: metrics?.stepsPerSecond ?? 0 };
}

function summarize(values: number[]): ScoreSummary {
  const interval = bootstrapInterval(values, interquartileMean, { level: LEVEL, resamples: RESAMPLES });
  return { mean: mean(values), std: sampleStd(values), iqm: interquartileMean(values), iqmLow: interval.low, iqmHigh: interval.high, perSeed: values };
}

/** `stitch eval RUN --dataset HELD_OUT --json`, cached in the run directory */
function heldOutError(runDir: string, heldOut: string): number {
  const file = join(runDir, HELD_OUT_FILE);
  if (!existsSync(file)) {
    const scored = spawnSync(process.execPath, [CLI, 'eval', runDir, '--dataset', heldOut, '--json'], { encoding: 'utf8' });
    if (scored.status !== 0) throw new SweepError(`${runDir}: held-out scoring failed: ${scored.stderr.trim().split('\n').pop() ?? ''}`);
    writeFileAtomic(file, scored.stdout);
  }
  const error = fieldOf(JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>, 'actionMse');
  return typeof error === 'number' ? error : Number.NaN;
}

const cellKey = (job: JobIndexEntry): string => JSON.stringify([job.dataset, job.algorithm, job.point]);

/** `readMetrics`: how a run's metrics log is read (the dashboard keeps incremental readers) */
export function computeResults(index: JobIndex, readMetrics: MetricsSummaryRead = readMetricsSummary): SweepResults {
  const cells = new Map<string, JobIndexEntry[]>();
  for (const job of index.jobs) cells.set(cellKey(job), [...(cells.get(cellKey(job)) ?? []), job]);
  const rows: ResultRow[] = [];
  let normalized = true;
  for (const jobs of cells.values()) {
    const first = jobs[0] as JobIndexEntry;
    const finished = jobs.filter((job) => isFinished(job.runDir)).map((job) => readFinished(job, readMetrics)).sort((a, b) => a.job.seed - b.job.seed);
    if (finished.length === 0) continue;
    normalized &&= finished.every((run) => run.normalized);
    rows.push({
      dataset: first.dataset,
      algorithm: first.algorithm,
      point: first.point,
      seeds: finished.map((run) => run.job.seed),
      missing: jobs.length - finished.length,
      last: summarize(finished.map((run) => run.last)),
      best: summarize(finished.map((run) => run.best)),
      trainSeconds: mean(finished.map((run) => run.seconds)),
      stepsPerSecond: mean(finished.map((run) => run.rate)),
      heldOut: index.heldOut === null ? null : finished.map((run) => heldOutError(run.job.runDir, index.heldOut as string)),
    });
  }
  return { name: index.name, scoreName: normalized ? 'normalized score' : 'mean return', rows };
}

const fixed = (value: number, digits = 1): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const pointLabel = (point: Record<string, unknown>): string => Object.entries(point).map(([key, value]) => `${key}=${JSON.stringify(value)}`).join(' ');
const rowAlgorithm = (row: ResultRow): string => (Object.keys(row.point).length === 0 ? row.algorithm : `${row.algorithm} ${pointLabel(row.point)}`);

export function resultsMarkdown(results: SweepResults): string {
  const hasHeldOut = results.rows.some((row) => row.heldOut !== null);
  const lines = [
    `Sweep ${results.name}: ${results.scoreName}, over the finished seeds. Last: the final evaluation. Best: the highest evaluation during training (chosen on the evaluation episodes, so optimistic). IQM with a ${LEVEL * 100}% percentile bootstrap interval (${RESAMPLES} resamples).`,
    '',
    `| dataset | algorithm | seeds | last (mean ± std) | last IQM [${LEVEL * 100}% CI] | best (mean ± std) | best IQM [${LEVEL * 100}% CI] | last per seed | train s/run | steps/s |${hasHeldOut ? ' held-out action MSE per seed |' : ''}`,
    `|---|---|---|---|---|---|---|---|---|---|${hasHeldOut ? '---|' : ''}`,
  ];
  for (const row of results.rows) {
    const iqm = (s: ScoreSummary): string => `${fixed(s.iqm)} [${fixed(s.iqmLow)}, ${fixed(s.iqmHigh)}]`;
    const seeds = `${row.seeds.length}${row.missing > 0 ? ` (${row.missing} missing)` : ''}`;
    const heldOut = row.heldOut === null ? '' : ` ${row.heldOut.map((value) => value.toFixed(4)).join(', ')} |`;
    lines.push(`| ${row.dataset} | ${rowAlgorithm(row)} | ${seeds} | ${fixed(row.last.mean)} ± ${fixed(row.last.std)} | ${iqm(row.last)} | ${fixed(row.best.mean)} ± ${fixed(row.best.std)} | ${iqm(row.best)} | ${row.last.perSeed.map((v) => fixed(v)).join(', ')} | ${fixed(row.trainSeconds, 0)} | ${fixed(row.stepsPerSecond)} |${heldOut}`);
  }
  return `${lines.join('\n')}\n`;
}

const csvField = (value: string): string => (/[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);

export function resultsCsv(results: SweepResults): string {
  const header = ['dataset', 'algorithm', 'grid', 'seeds', 'missing', 'score',
    'lastMean', 'lastStd', 'lastIqm', 'lastIqmLow', 'lastIqmHigh', 'bestMean', 'bestStd', 'bestIqm', 'bestIqmLow', 'bestIqmHigh',
    'lastPerSeed', 'trainSeconds', 'stepsPerSecond', 'heldOutActionMse'];
  const lines = [header.join(',')];
  for (const row of results.rows) {
    const numbers = (s: ScoreSummary): string[] => [s.mean, s.std, s.iqm, s.iqmLow, s.iqmHigh].map(String);
    lines.push([row.dataset, row.algorithm, pointLabel(row.point), row.seeds.join(' '), String(row.missing), results.scoreName,
      ...numbers(row.last), ...numbers(row.best), row.last.perSeed.join(' '), String(row.trainSeconds), String(row.stepsPerSecond),
      row.heldOut === null ? '' : row.heldOut.join(' ')].map(csvField).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** the report's comparison page, grouped by the sweep's cells (dataset x algorithm label x grid point) */
function comparisonPage(index: JobIndex): string {
  const groups: Comparison['groups'] = [];
  let comparison: Comparison | null = null;
  const cells = new Map<string, JobIndexEntry[]>();
  for (const job of index.jobs.filter((entry) => isFinished(entry.runDir))) cells.set(cellKey(job), [...(cells.get(cellKey(job)) ?? []), job]);
  for (const jobs of cells.values()) {
    const first = jobs[0] as JobIndexEntry;
    const cell = compareRuns(jobs.map((job) => readRunSnapshot(job.runDir)));
    comparison ??= cell;
    for (const group of cell.groups) groups.push({ ...group, label: `${first.dataset} · ${Object.keys(first.point).length === 0 ? first.algorithm : `${first.algorithm} ${pointLabel(first.point)}`}` });
  }
  if (comparison === null) throw new SweepError(`sweep ${index.name}: no finished run to report yet`);
  return renderPage(`Stitch sweep ${index.name}`, { mode: 'compare', comparison: { ...comparison, groups, runs: groups.flatMap((group) => group.runs) } });
}

export interface ReportPaths {
  markdown: string;
  csv: string;
  json: string;
  html: string;
}

/** `index`: the jobs, when they come from the sweep file rather than the directory's jobs.json */
export function writeSweepReport(sweepDir: string, index: JobIndex = readJobIndex(sweepDir)): { results: SweepResults; paths: ReportPaths } {
  const results = computeResults(index);
  if (results.rows.length === 0) throw new SweepError(`sweep ${index.name}: no finished run to report yet`);
  mkdirSync(sweepDir, { recursive: true });
  const paths: ReportPaths = {
    markdown: join(sweepDir, 'results.md'),
    csv: join(sweepDir, 'results.csv'),
    json: join(sweepDir, 'results.json'),
    html: join(sweepDir, 'comparison.html'),
  };
  writeFileAtomic(paths.markdown, resultsMarkdown(results));
  writeFileAtomic(paths.csv, resultsCsv(results));
  writeFileAtomic(paths.json, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(paths.html, comparisonPage(index));
  return { results, paths };
}
