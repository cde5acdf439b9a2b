import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { compareRuns } from '../../src/report/compare.js';
import type { ReportExtras } from '../../src/report/extras.js';
import { readRunSnapshot, type RunSnapshot } from '../../src/report/run-data.js';
import { bootstrapInterval, interquartileMean, mean, sampleStd } from '../../src/report/stats.js';
import type { EvaluationRecord } from '../../src/train/evaluate.js';
import { smallMazeDataset, stitch, tempDir, trainTiny } from './fixture.js';

function evaluation(step: number, score: number): EvaluationRecord {
  const condition = { label: 'target 60', target_return: 60, normalized_score: score, normalized_std: 1, mean_return: score / 2, std_return: 0.5, mean_length: 300, returns: [score / 2], lengths: [300], candidate_choices: null };
  return { step, env: 'maze2d-umaze-v1', episodes: 1, seed: 0, headline: 'target 60', normalized_score: score, normalized_std: 1, mean_return: score / 2, std_return: 0.5, conditions: [condition] };
}

function snapshot(name: string, algo: string, seed: number, scores: number[]): RunSnapshot {
  const evaluations = scores.map((score, i) => evaluation((i + 1) * 10, score));
  return {
    name, status: 'finished', config: { algo, env: 'maze2d-umaze-v1', seed }, metrics: [], metricsTotal: 0, evaluations,
    final: { last: evaluations[evaluations.length - 1] as EvaluationRecord, best: evaluations[0] as EvaluationRecord }, extras: null, liveness: { heartbeat: null, ageSeconds: null, reason: null }, provenance: [], hasReport: false, problems: [],
  };
}

describe('report statistics', () => {
  it('the interquartile mean drops a quarter of the runs at each end', () => {
    assert.equal(interquartileMean([100, 1, 2, 3, 4, 5, 6, -50]), 3.5);
    assert.equal(interquartileMean([3, 1, 2]), 2, 'fewer than 4 runs: the mean');
    assert.equal(mean([1, 2, 3]), 2);
    assert.equal(sampleStd([1, 2, 3]), 1);
    assert.equal(sampleStd([7]), 0);
  });

  it('the bootstrap interval is seeded, brackets the estimate and collapses for equal scores', () => {
    const scores = [10, 12, 30, 31, 33, 35, 50, 80];
    const a = bootstrapInterval(scores, interquartileMean, { resamples: 500 });
    const b = bootstrapInterval(scores, interquartileMean, { resamples: 500 });
    assert.deepEqual(a, b);
    assert.ok(a.low < interquartileMean(scores) && interquartileMean(scores) < a.high, JSON.stringify(a));
    assert.ok(a.low >= 10 && a.high <= 80);
    const flat = bootstrapInterval([5, 5, 5], interquartileMean);
    assert.equal(flat.low, 5);
    assert.equal(flat.high, 5);
  });

  it('compareRuns groups seeds of one algorithm and summarises their final scores', () => {
    const comparison = compareRuns([
      snapshot('dt-0', 'dt', 0, [10, 20]), snapshot('dt-1', 'dt', 1, [30, 40]), snapshot('rf-0', 'reinformer', 0, [50, 60]),
    ]);
    assert.deepEqual(comparison.groups.map((group) => group.label), ['dt · maze2d-umaze-v1', 'reinformer · maze2d-umaze-v1']);
    const dt = comparison.groups[0]!;
    assert.deepEqual(dt.runs.map((run) => run.final), [20, 40]);
    assert.equal(dt.mean, 30);
    assert.equal(dt.std, Math.sqrt(200));
    assert.equal(dt.iqm, 30);
    assert.ok(dt.iqmLow >= 20 && dt.iqmHigh <= 40 && dt.iqmLow < dt.iqmHigh);
    assert.deepEqual(dt.curve, { steps: [10, 20], mean: [20, 30], std: [Math.sqrt(200), Math.sqrt(200)] });
    assert.equal(comparison.scoreName, 'normalized score');
  });
});

describe('reading a run directory while it is written', () => {
  it('skips torn lines, reports a half-written eval.json and treats a missing directory as no run', () => {
    const dir = join(tempDir(), 'half');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ algo: 'dt', env: 'maze2d-umaze-v1', steps: 100 }));
    writeFileSync(join(dir, 'metrics.jsonl'), '{"step":10,"time_s":1,"action_loss":0.5}\n{"step":20,"time_s":2,"act');
    writeFileSync(join(dir, 'eval.json'), '{"format":"stitch-eval","la');
    const half = readRunSnapshot(dir);
    assert.equal(half.status, 'in progress');
    assert.deepEqual(half.metrics.map((record) => record.step), [10]);
    assert.equal(half.final, null);
    assert.equal(half.problems.length, 2, half.problems.join('; '));
    appendFileSync(join(dir, 'metrics.jsonl'), 'ion_loss":0.4}\n');
    assert.deepEqual(readRunSnapshot(dir).metrics.map((record) => record.step), [10, 20], 'the completed line is read');
    const gone = readRunSnapshot(join(dir, 'deleted'));
    assert.equal(gone.status, 'not a run');
    assert.deepEqual(gone.metrics, []);
  });
});

describe('stitch report and stitch compare on real runs', () => {
  let dir: string;
  let runA: string;
  let runB: string;
  before(async () => {
    dir = tempDir();
    const dataset = await smallMazeDataset(dir);
    runA = join(dir, 'dt-seed0');
    runB = join(dir, 'dt-seed1');
    trainTiny('dt', dataset, runA, 0);
    trainTiny('dt', dataset, runB, 1);
  });

  it('writes a self-contained report.html with the run and its rollouts embedded', () => {
    const result = stitch('report', runA);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), `report: ${join(runA, 'report.html')}`);
    const html = readFileSync(join(runA, 'report.html'), 'utf8');
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|@import|url\(http/, 'nothing is loaded from elsewhere');
    assert.match(html, /uPlot/);
    assert.match(html, /"action_loss"/);
  });

  it('rollouts re-run the final evaluation: the same returns and lengths, with positions for the maze', () => {
    const extras = JSON.parse(readFileSync(join(runA, 'report-data.json'), 'utf8')) as ReportExtras;
    const finalEvaluation = (JSON.parse(readFileSync(join(runA, 'eval.json'), 'utf8')) as { last: EvaluationRecord }).last;
    const headline = finalEvaluation.conditions[0]!;
    assert.equal(extras.rollouts?.condition, headline.label);
    assert.deepEqual(extras.rollouts?.episodes.map((episode) => episode.return), headline.returns);
    assert.deepEqual(extras.rollouts?.episodes.map((episode) => episode.length), headline.lengths);
    for (const episode of extras.rollouts?.episodes ?? []) assert.equal(episode.points?.length, (episode.length + 1) * 2, 'start position plus one per step');
    assert.match(extras.maze?.rolloutsSvg ?? '', /<polyline/);
    assert.equal(extras.dataset?.rows, 9919);
    assert.equal(extras.dataset?.returnPercentiles.length, 101);
  });

  it('compare writes one page for several runs; a directory without evaluations is refused', () => {
    const out = join(dir, 'compare.html');
    const result = stitch('compare', runA, runB, '--out', out);
    assert.equal(result.status, 0, result.stderr);
    const html = readFileSync(out, 'utf8');
    assert.match(html, /"label":"dt · maze2d-umaze-v1"/);
    assert.match(html, /"iqmLow":/);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const refused = stitch('compare', runA, empty, '--out', join(dir, 'never.html'));
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /^stitch: no evaluation to compare in empty/);
    assert.ok(!existsSync(join(dir, 'never.html')));
    assert.equal(stitch('report', join(dir, 'missing')).status, 2);
  });

  it('compare skips an unfinished run with a note instead of failing (issue 21)', () => {
    const unfinished = join(dir, 'dt-seed2-killed');
    mkdirSync(unfinished);
    const config = JSON.parse(readFileSync(join(runA, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(unfinished, 'config.json'), JSON.stringify({ ...config, seed: 2, evalSeed: 2 }));
    const out = join(dir, 'compare-skip.html');
    const result = stitch('compare', runA, runB, unfinished, '--out', out);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /^stitch: note: skipped dt-seed2-killed \(unfinished, no evaluation yet\)$/m);
    assert.match(result.stdout, /^dt · maze2d-umaze-v1: 2 seeds, IQM /m);
    assert.match(readFileSync(out, 'utf8'), /"skipped":\[\{"name":"dt-seed2-killed"/);
    const duplicate = stitch('compare', runA, runA, '--out', join(dir, 'never2.html'));
    assert.equal(duplicate.status, 2);
    assert.match(duplicate.stderr, /same config and seed 0/);
    assert.ok(!existsSync(join(dir, 'never2.html')));
  });
});
