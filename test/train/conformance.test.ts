/**
 * The shared conformance test (as d3rlpy runs one test on every algorithm): every registered
 * algorithm fits, logs finite named terms, acts within the action bounds, saves a policy file
 * that reproduces its final evaluation, and resumes from a checkpoint to the identical run.
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { algorithmNames, findAlgorithm } from '../../src/algos/registry.js';
import { envSpec } from '../../src/envs/registry.js';
import { listCheckpoints } from '../../src/train/checkpoint.js';
import { evaluateConditions, type EvaluationRecord } from '../../src/train/evaluate.js';
import { loadPolicy } from '../../src/train/policy-file.js';
import { resumeRun, startRun } from '../../src/train/trainer.js';
import { captureIO, ENV, smallMazeDataset, tempDir, tinyConfig } from './fixture.js';

function jsonLines(path: string): Array<Record<string, number>> {
  return readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, number>);
}

const withoutClock = (record: Record<string, number>): Record<string, number> => {
  const { time_s: _time, steps_per_s: _rate, ...rest } = record;
  return rest;
};

describe('every registered algorithm conforms', () => {
  let dir: string;
  let dataset: string;
  before(async () => {
    dir = tempDir();
    dataset = await smallMazeDataset(dir);
  });

  for (const algo of algorithmNames()) {
    describe(algo, () => {
      const runDir = (): string => join(dir, `${algo}-fit`);

      it('fits: every logged term is finite and named, the run directory is complete', async () => {
        const config = tinyConfig(dataset, algo, { steps: 30, evalEvery: 15, checkpointEvery: 15, logEvery: 5 });
        await startRun(runDir(), config, captureIO());
        const records = jsonLines(join(runDir(), 'metrics.jsonl'));
        assert.deepEqual(records.map((r) => r.step), [5, 10, 15, 20, 25, 30]);
        for (const record of records) {
          for (const [name, value] of Object.entries(record)) assert.ok(Number.isFinite(value), `${name} = ${value} at step ${record.step}`);
          assert.ok(Object.keys(record).some((name) => name.includes('loss')), 'a loss term is logged by name');
          assert.ok(Object.keys(record).some((name) => name === 'lr' || name.startsWith('lr_')), 'the learning rate is logged');
        }
        const evaluation = JSON.parse(readFileSync(join(runDir(), 'eval.json'), 'utf8')) as {
          last: EvaluationRecord; best: EvaluationRecord; dataset_preparation: Record<string, number | string> | null;
        };
        assert.equal(evaluation.last.step, 30);
        for (const condition of evaluation.last.conditions) {
          if (condition.candidate_choices === null) continue;
          // policies choosing among candidates account for every step they acted
          const chosen = condition.candidate_choices.reduce((sum, choice) => sum + choice.chosen, 0);
          assert.equal(chosen, condition.lengths.reduce((sum, length) => sum + length, 0));
        }
        if (findAlgorithm(algo)?.prepare === undefined) assert.equal(evaluation.dataset_preparation, null);
        else {
          // RDT/RVDT: the expert subset's size is part of the run's record
          assert.ok(Number(evaluation.dataset_preparation?.expert_trajectories) > 0);
          assert.ok(Number(evaluation.dataset_preparation?.expert_transitions) > 0);
        }
        assert.ok(Number.isFinite(evaluation.last.normalized_score));
      });

      it('acts within the action bounds from a loaded policy file', () => {
        const policy = loadPolicy(join(runDir(), 'policy.safetensors'));
        const spec = envSpec(ENV);
        policy.reset();
        for (let t = 0; t < 5; t++) {
          const action = policy.act(Float64Array.from([1 + 0.1 * t, 1, 0.5, -0.5]));
          assert.equal(action.length, spec.actionDim);
          action.forEach((a, d) => assert.ok(a >= (spec.actionLow[d] as number) && a <= (spec.actionHigh[d] as number), `action ${a}`));
          policy.observeReward(0);
        }
      });

      it('its policy file reproduces the final evaluation exactly', async () => {
        const policy = loadPolicy(join(runDir(), 'policy.safetensors'));
        const { last } = JSON.parse(readFileSync(join(runDir(), 'eval.json'), 'utf8')) as { last: EvaluationRecord };
        const again = await evaluateConditions(policy.header.step, policy.conditions, (n, condition, rng) => policy.createVectorPolicy(n, condition, rng), {
          env: ENV, episodes: last.episodes, seed: last.seed, numEnvs: 32,
        });
        assert.deepEqual(again, last);
      });

      it('resumes from a checkpoint to the identical run', async () => {
        const resumed = join(dir, `${algo}-resumed`);
        cpSync(runDir(), resumed, { recursive: true });
        for (const entry of listCheckpoints(resumed)) if (entry.step > 15) rmSync(entry.path);
        rmSync(join(resumed, 'eval.json'));
        rmSync(join(resumed, 'policy.safetensors'));
        await resumeRun(resumed, captureIO());
        assert.deepEqual(readFileSync(join(resumed, 'policy.safetensors')), readFileSync(join(runDir(), 'policy.safetensors')));
        assert.deepEqual(jsonLines(join(resumed, 'metrics.jsonl')).map(withoutClock), jsonLines(join(runDir(), 'metrics.jsonl')).map(withoutClock));
      });
    });
  }
});
