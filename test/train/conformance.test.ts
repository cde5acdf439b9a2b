/**
 * The shared conformance test (as d3rlpy runs one test on every algorithm): every registered
 * algorithm fits, logs finite named terms, acts within the action bounds, saves a policy file
 * that reproduces its final evaluation, resumes from a checkpoint to the identical run, and
 * predicts the actions its action loss scores (predictActions, the held-out action error's input).
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { PolicyContext } from '../../src/algos/algorithm.js';
import { algorithmNames, findAlgorithm } from '../../src/algos/registry.js';
import { loadDataset } from '../../src/data/load.js';
import { stateStatistics } from '../../src/data/preprocess.js';
import { WindowSampler, type WindowBatch } from '../../src/data/sampler.js';
import type { TrajectoryStore } from '../../src/data/store.js';
import { Rng } from '../../src/engine/rng.js';
import { envSpec } from '../../src/envs/registry.js';
import { listCheckpoints } from '../../src/train/checkpoint.js';
import { parseAlgorithmConfig } from '../../src/train/config.js';
import { evaluateConditions, type EvaluationRecord } from '../../src/train/evaluate.js';
import { loadPolicy } from '../../src/deploy/node.js';
import { algorithmSamplerOptions } from '../../src/train/sampling.js';
import { resumeRun, startRun } from '../../src/train/trainer.js';
import { captureIO, ENV, smallMazeDataset, tempDir, tinyConfig } from './fixture.js';
import { camelCaseKeys, type CamelCased } from '../../src/util/json-keys.js';
import { metricsNow } from '../../src/algos/algorithm.js';

function jsonLines(path: string): Array<Record<string, number>> {
  return readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, number>);
}

const withoutClock = (record: Record<string, number>): Record<string, number> => {
  const { time_s: _time, steps_per_s: _rate, ...rest } = record;
  return rest;
};

/** Σ mask·(â − a)² / (Σ mask · A): the masked action MSE */
function maskedActionMse(batch: WindowBatch, predicted: Float32Array): number {
  const A = batch.actionDim;
  let squared = 0;
  let positions = 0;
  batch.mask.forEach((m, row) => {
    positions += m;
    for (let d = 0; d < A; d++) squared += m * ((predicted[row * A + d] as number) - (batch.actions[row * A + d] as number)) ** 2;
  });
  return squared / (positions * A);
}

/**
 * How to read the masked action MSE off the scalars one update reports, for algorithms that do not
 * report `action_mse` themselves (a new algorithm reports it or gets an entry here). Read on a fresh
 * model in eval mode, so the update's forward pass is exactly the prediction.
 */
const ACTION_MSE_OF_TERMS: Readonly<Record<string, (terms: Record<string, number>, actionDim: number) => number | undefined>> = {
  // the deterministic heads' action loss is the masked MSE itself
  dt: (terms) => terms.action_loss,
  qt: (terms) => terms.action_loss,
  // the Gaussian NLL with σ = 1 (a fresh model's log σ = 0): Σ_d ½(a − μ)² + ½ log 2π per position
  reinformer: (terms, actionDim) => (terms.action_nll === undefined ? undefined : (2 * terms.action_nll) / actionDim - Math.log(2 * Math.PI)),
};

describe('every registered algorithm conforms', () => {
  let dir: string;
  let dataset: string;
  let store: TrajectoryStore;
  before(async () => {
    dir = tempDir();
    dataset = await smallMazeDataset(dir);
    store = (await loadDataset(dataset)).store;
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
          last: CamelCased<EvaluationRecord>; best: CamelCased<EvaluationRecord>; datasetPreparation: Record<string, number | string> | null;
        };
        assert.equal(evaluation.last.step, 30);
        for (const condition of evaluation.last.conditions) {
          if (condition.candidateChoices === null) continue;
          // policies choosing among candidates account for every step they acted
          const chosen = condition.candidateChoices.reduce((sum, choice) => sum + choice.chosen, 0);
          assert.equal(chosen, condition.lengths.reduce((sum, length) => sum + length, 0));
        }
        if (findAlgorithm(algo)?.prepare === undefined) assert.equal(evaluation.datasetPreparation, null);
        else {
          // RDT/RVDT: the expert subset's size is part of the run's record
          assert.ok(Number(evaluation.datasetPreparation?.expertTrajectories) > 0);
          assert.ok(Number(evaluation.datasetPreparation?.expertTransitions) > 0);
        }
        assert.ok(Number.isFinite(evaluation.last.normalizedScore));
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
        const { last } = JSON.parse(readFileSync(join(runDir(), 'eval.json'), 'utf8')) as { last: CamelCased<EvaluationRecord> };
        const again = await evaluateConditions(policy.header.step, policy.conditions, (n, condition, rng) => policy.createVectorPolicy(n, condition, rng), {
          env: ENV, episodes: last.episodes, seed: last.seed, numEnvs: 32,
        });
        assert.deepEqual(camelCaseKeys(again), last);
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

      it('predictActions: B·K·A finite values, deterministic in eval mode, the MSE its action loss reports', () => {
        const definition = findAlgorithm(algo);
        assert.ok(definition !== undefined);
        const config = tinyConfig(dataset, algo);
        const algorithmConfig = parseAlgorithmConfig(definition, config.algorithm);
        const statistics = stateStatistics(store);
        const spec = envSpec(ENV);
        const context: PolicyContext = {
          obsDim: store.obsDim, actionDim: store.actionDim, stateMean: statistics.mean, stateStd: statistics.std,
          actionLow: [...spec.actionLow], actionHigh: [...spec.actionHigh], maxEpisodeSteps: spec.maxEpisodeSteps,
        };
        const preparation = definition.prepare?.(store, algorithmConfig);
        const algorithm = definition.create(algorithmConfig, context, new Rng(11), preparation);
        const sampler = new WindowSampler(store, {
          ...algorithmSamplerOptions(definition, algorithmConfig, config.datasetId, store, statistics),
          ...(preparation?.samplerEpisodeWeights === undefined ? {} : { episodeWeights: preparation.samplerEpisodeWeights }),
        }, new Rng(12));
        const batch = sampler.sample();
        const { batchSize: B, contextLength: K, actionDim: A } = batch;

        algorithm.setTraining(false);
        const predicted = algorithm.predictActions(batch);
        assert.equal(predicted.length, B * K * A);
        predicted.forEach((value, i) => assert.ok(Number.isFinite(value), `prediction ${i} = ${value}`));
        assert.deepEqual(algorithm.predictActions(batch), predicted, 'deterministic in eval mode');

        // one update in eval mode computes its loss with the same forward pass, before changing any weight
        const mse = maskedActionMse(batch, predicted);
        const terms = metricsNow(algorithm.update(batch, 0));
        const reported = (ACTION_MSE_OF_TERMS[algo] ?? ((t: Record<string, number>) => t.action_mse))(terms, A);
        assert.ok(reported !== undefined, `${algo} reports no action_mse and has no entry in ACTION_MSE_OF_TERMS`);
        assert.ok(mse > 1e-3, `the untrained model's MSE (${mse}) is not trivially 0`);
        assert.ok(Math.abs(mse - reported) <= 1e-5 * mse, `masked MSE of predictActions ${mse} vs the reported ${reported}`);
      });
    });
  }
});
