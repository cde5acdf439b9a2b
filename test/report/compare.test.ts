/** issue 21 item 5: what `stitch compare` pools, skips and refuses. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CompareError, compareRuns, partitionFinished } from '../../src/report/compare.js';
import { readRunSnapshot, type RunSnapshot } from '../../src/report/run-data.js';
import { camelCaseKeys } from '../../src/util/json-keys.js';
import type { EvaluationRecord } from '../../src/train/evaluate.js';

function evaluation(step: number, score: number): EvaluationRecord {
  const condition = { label: 'target 60', target_return: 60, normalized_score: score, normalized_std: 1, mean_return: score / 2, std_return: 0.5, mean_length: 300, returns: [score / 2], lengths: [300], candidate_choices: null };
  return { step, env: 'maze2d-umaze-v1', episodes: 1, seed: 0, headline: 'target 60', normalized_score: score, normalized_std: 1, mean_return: score / 2, std_return: 0.5, conditions: [condition] };
}

/** a run with a full config (as config.json holds it); `finished: false` leaves out eval.json */
function run(name: string, seed: number, scores: number[], algorithm: Record<string, unknown> = { width: 64 }, options: { finished?: boolean; steps?: number } = {}): RunSnapshot {
  const evaluations = scores.map((score, i) => evaluation((i + 1) * 100, score));
  const config = {
    format: 'stitch-run', formatVersion: 1, algo: 'dt', dataset: '/data/umaze.hdf5', datasetId: 'maze2d-umaze-v1', env: 'maze2d-umaze-v1',
    seed, evalSeed: seed, steps: options.steps ?? 1000, evalEvery: 100, evalEpisodes: 10, evalEnvs: 32, logEvery: 100, checkpointEvery: 100, preset: null, algorithm,
  };
  const last = evaluations[evaluations.length - 1];
  const final = options.finished === false || last === undefined ? null : { last, best: last };
  return { name, status: final === null ? 'in progress' : 'finished', config, metrics: [], metricsTotal: 0, evaluations, final, extras: null, liveness: { heartbeat: null, ageSeconds: null, reason: null }, provenance: [], hasReport: false, problems: [] };
}

describe('compare: groups, differing fields, duplicates, unfinished runs', () => {
  it('groups by the whole config minus the seed: width 128 is not pooled with width 64', () => {
    const comparison = compareRuns([run('w64-s0', 0, [10]), run('w64-s1', 1, [30]), run('w128-s0', 0, [50], { width: 128 })]);
    assert.equal(comparison.groups.length, 2);
    assert.deepEqual(comparison.differingFields, ['algorithm.width']);
    assert.deepEqual(comparison.groups.map((group) => group.label), ['dt · maze2d-umaze-v1 · algorithm.width=64', 'dt · maze2d-umaze-v1 · algorithm.width=128']);
    assert.deepEqual(comparison.groups.map((group) => group.runs.map((r) => r.name)), [['w64-s0', 'w64-s1'], ['w128-s0']]);
    assert.deepEqual(comparison.groups.map((group) => group.settings), [['64'], ['128']]);
    assert.deepEqual(comparison.groups.map((group) => group.shortLabel), ['width=64', 'width=128']);
  });

  it('runs of different algorithms differ in the algorithm and the settings both have, not in settings only one has', () => {
    const qt = run('qt-s0', 0, [10], { width: 64, eta: 5, candidates: 12 });
    qt.config = { ...qt.config, algo: 'qt' };
    const reinformer = run('reinformer-s0', 0, [30], { width: 128, expectile: 0.99 });
    reinformer.config = { ...reinformer.config, algo: 'reinformer' };
    const comparison = compareRuns([qt, reinformer]);
    assert.deepEqual(comparison.differingFields, ['algo', 'algorithm.width']);
    assert.deepEqual(comparison.groups.map((group) => group.label), ['qt · maze2d-umaze-v1 · algorithm.width=64', 'reinformer · maze2d-umaze-v1 · algorithm.width=128']);
    assert.deepEqual(comparison.groups.map((group) => group.shortLabel), ['qt · width=64', 'reinformer · width=128']);
  });

  it('runs of one algorithm whose configs disagree on having a setting at all (an older version) differ in it', () => {
    const comparison = compareRuns([run('old', 0, [10], { width: 64 }), run('new', 1, [30], { width: 64, keepSigma: true })]);
    assert.deepEqual(comparison.differingFields, ['algorithm.keepSigma']);
    assert.deepEqual(comparison.groups.map((group) => group.settings), [['undefined'], ['true']]);
    assert.deepEqual(comparison.groups.map((group) => group.shortLabel), ['keepSigma=undefined', 'keepSigma=true']);
  });

  it('fields outside the run config (a record of how the run was started) do not split groups', () => {
    const a = run('a', 0, [10]);
    const b = run('b', 1, [30]);
    b.config = { ...b.config, commandLine: 'stitch train --seed 1', stitchVersion: '0.1.0' };
    assert.equal(compareRuns([a, b]).groups.length, 1);
  });

  it('a different step budget is a different group too', () => {
    const comparison = compareRuns([run('long', 0, [10]), run('short', 1, [30], { width: 64 }, { steps: 200 })]);
    assert.deepEqual(comparison.differingFields, ['steps']);
  });

  it('marks a group of one run: no spread, the interval is the score itself', () => {
    const comparison = compareRuns([run('a', 0, [10]), run('b', 1, [30]), run('c', 0, [50], { width: 128 })]);
    assert.deepEqual(comparison.groups.map((group) => group.singleRun), [false, true]);
    const single = comparison.groups[1]!;
    assert.equal(single.std, 0);
    assert.equal(single.iqmLow, 50);
    assert.equal(single.iqmHigh, 50);
  });

  it('refuses two runs of one config with the same seed (they would count as two seeds)', () => {
    assert.throws(() => compareRuns([run('first', 0, [10]), run('copy', 0, [10])]), (error: unknown) => error instanceof CompareError && /first and copy have the same config and seed 0/.test(error.message));
  });

  it('skips unfinished runs (no eval.json) with the reason, whether or not they were evaluated', () => {
    const { finished, skipped } = partitionFinished([run('done', 0, [10]), run('stopped', 1, [20], { width: 64 }, { finished: false }), run('fresh', 2, [], { width: 64 }, { finished: false })]);
    assert.deepEqual(finished.map((snapshot) => snapshot.name), ['done']);
    assert.deepEqual(skipped, [
      { name: 'stopped', reason: 'unfinished, last evaluated at step 100/1000' },
      { name: 'fresh', reason: 'unfinished, no evaluation yet' },
    ]);
    const comparison = compareRuns(finished, skipped);
    assert.deepEqual(comparison.skipped.map((entry) => entry.name), ['stopped', 'fresh']);
    assert.deepEqual(comparison.differingFields, [], 'one group: nothing differs');
  });
});

describe('run files of either key spelling', () => {
  it('readRunSnapshot reads eval.json and evaluations.jsonl written in camelCase or, before the JSON convention, in snake_case', () => {
    const record = evaluation(100, 42);
    const write = (dir: string, convert: (value: unknown) => unknown, bestRuleKey: string): void => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ algo: 'dt', env: 'maze2d-umaze-v1', seed: 0, steps: 100 }));
      writeFileSync(join(dir, 'evaluations.jsonl'), `${JSON.stringify(convert(record))}\n`);
      writeFileSync(join(dir, 'eval.json'), JSON.stringify({ ...(convert({ normalized_score: 42, last: record, best: record }) as object), [bestRuleKey]: 'highest headline score' }));
    };
    const root = mkdtempSync(join(tmpdir(), 'stitch-keys-'));
    write(join(root, 'old'), (value) => value, 'best_rule');
    write(join(root, 'new'), camelCaseKeys, 'bestRule');
    assert.match(readFileSync(join(root, 'new', 'eval.json'), 'utf8'), /"normalizedScore":42/);
    const old = readRunSnapshot(join(root, 'old'));
    const current = readRunSnapshot(join(root, 'new'));
    assert.deepEqual(current.evaluations, [record]);
    assert.deepEqual(current.final, { last: record, best: record, best_rule: 'highest headline score' });
    assert.deepEqual({ ...current, name: 'run' }, { ...old, name: 'run' });
    assert.deepEqual(compareRuns([current]).groups[0]?.runs[0]?.final, 42);
  });
});
