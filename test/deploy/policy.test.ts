/**
 * Acting apart from training: a policy file restores only what acting needs (QT: the actor and the
 * target critic; no EMA actor, online critic or optimizer), from a path, a file URL or bytes, and
 * acts exactly as the training-time algorithm it was written from. Reinformer's predicted return
 * reaches reports through the policy, not through the algorithm's name.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import type { AnyAlgorithmDefinition, PolicyContext } from '../../src/algos/algorithm.js';
import { findAlgorithm } from '../../src/algos/registry.js';
import { ActingSettingsError, policyFromBytes } from '../../src/deploy/index.js';
import { loadPolicy, restorePolicy } from '../../src/deploy/node.js';
import { Rng } from '../../src/engine/index.js';
import { writePolicyFile } from '../../src/train/policy-file.js';

const directories: string[] = [];
after(() => directories.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stitch-deploy-'));
  directories.push(dir);
  return dir;
}

const S = 3;
const A = 2;

function tinyContext(): PolicyContext {
  return {
    obsDim: S, actionDim: A, stateMean: Float32Array.of(0.1, 0, -0.2), stateStd: Float32Array.of(1, 2, 0.5),
    actionLow: [-1, -0.5], actionHigh: [1, 0.5], maxEpisodeSteps: 20,
  };
}

const TINY: Record<string, Record<string, unknown>> = {
  dt: { context: 3, width: 8, layers: 1, heads: 2, mlpWidth: 16, maxTimestep: 32, targetReturns: [10, 5] },
  reinformer: { context: 3, width: 8, layers: 1, heads: 2, maxTimestep: 32, returnScale: 10 },
  qt: { context: 3, width: 8, layers: 1, heads: 2, mlpWidth: 16, maxTimestep: 32, criticWidth: 8, candidates: 4, targetReturns: [10, 5] },
  rdt: { context: 3, width: 8, layers: 1, heads: 2, mlpWidth: 16, maxTimestep: 32, targetReturns: [10, 5] },
  rvdt: { context: 3, width: 8, layers: 1, heads: 2, mlpWidth: 16, maxTimestep: 32, criticWidth: 8, candidates: 4, targetReturns: [10, 5] },
};

function definition(name: string): AnyAlgorithmDefinition {
  const found = findAlgorithm(name);
  if (found === undefined) throw new Error(`no algorithm ${name}`);
  return found;
}

/** writes a policy file from a freshly created (training) algorithm; returns it and the file's path */
function writeTinyPolicy(name: string, dir: string, settings: Record<string, unknown> = {}) {
  const algo = definition(name);
  const config = algo.configSchema.parse({ ...TINY[name], ...settings });
  const algorithm = algo.create(config, tinyContext(), new Rng(3));
  algorithm.setTraining(false);
  const path = join(dir, `${name}-${Object.keys(settings).join('-')}.safetensors`);
  writePolicyFile(path, { definition: algo, config, context: tinyContext(), algorithm, datasetId: 'tiny', envId: 'tiny', step: 0 });
  return { algorithm, path };
}

function rollout(act: (observation: Float64Array) => Float32Array, observe: (reward: number) => void, steps: number): number[] {
  const rng = new Rng(11);
  const actions: number[] = [];
  for (let t = 0; t < steps; t++) {
    const observation = Float64Array.from({ length: S }, () => rng.normal());
    actions.push(...act(observation));
    observe(0.5 + 0.1 * t);
  }
  return actions;
}

describe('deployment: policies restored without training code', () => {
  it('a QT policy builds the actor and its target critic only (no EMA actor, online critic or optimizer)', () => {
    const dir = tempDir();
    const { algorithm, path } = writeTinyPolicy('qt', dir);
    const { model } = restorePolicy(path);
    assert.deepEqual(Object.keys(model.policyModules()), ['actor', 'critic_target']);
    assert.equal('emaActor' in model, false);
    assert.equal('critic' in model, false);
    assert.equal('optimizers' in model, false);
    assert.equal('update' in model, false);
    // the training object holds all four networks and both optimizers
    assert.deepEqual(Object.keys(algorithm.modules()), ['actor', 'ema_actor', 'critic', 'critic_target']);
    assert.deepEqual(Object.keys(algorithm.optimizers()), ['actor', 'critic']);
  });

  for (const name of Object.keys(TINY)) {
    it(`${name}: the restored policy acts as the training-time algorithm, from a path, a file URL and bytes`, () => {
      const dir = tempDir();
      const { algorithm, path } = writeTinyPolicy(name, dir);
      const condition = algorithm.evaluationConditions()[0];
      assert.ok(condition !== undefined);
      const trained = algorithm.createPolicy(1, condition, new Rng(0));
      trained.beginEpisode(0, 0, 0);
      const active = Uint8Array.of(1);
      const expected = rollout((observation) => {
        const out = new Float32Array(A);
        trained.act(observation, active, out);
        return out;
      }, (reward) => trained.observeRewards?.(Float64Array.of(reward), active), 5);
      for (const policy of [loadPolicy(path), loadPolicy(pathToFileURL(path)), policyFromBytes(readFileSync(path))]) {
        assert.deepEqual(rollout((observation) => policy.act(observation), (reward) => policy.observeReward(reward), 5), expected);
      }
    });
  }

  it('acting settings given at load time act as a policy trained with them (QT: candidates and selection)', () => {
    const dir = tempDir();
    const acting = { candidates: 6, selection: 'argmax' };
    const file = writeTinyPolicy('qt', dir).path;
    // the same seed builds the same weights: only the acting settings differ between the two files
    const trainedWith = writeTinyPolicy('qt', dir, acting).path;
    const overridden = loadPolicy(file, { acting });
    assert.equal(overridden.header.config.candidates, 6);
    assert.equal(overridden.header.config.selection, 'argmax');
    assert.deepEqual(overridden.header.evaluationConditions, loadPolicy(trainedWith).header.evaluationConditions);
    const actions = (policy: ReturnType<typeof loadPolicy>): number[] => rollout((observation) => policy.act(observation), (reward) => policy.observeReward(reward), 6);
    assert.deepEqual(actions(overridden), actions(loadPolicy(trainedWith)));
    assert.notDeepEqual(actions(loadPolicy(file)), actions(loadPolicy(trainedWith)), 'the settings change how it acts');
    const dt = loadPolicy(writeTinyPolicy('dt', dir).path, { acting: { targetReturns: [7] } });
    assert.deepEqual(dt.conditions.map((condition) => condition.label), ['target 7']);
  });

  it('refuses acting overrides of trained settings, unknown keys and invalid values, naming what is allowed', () => {
    const dir = tempDir();
    const qt = writeTinyPolicy('qt', dir).path;
    assert.throws(() => loadPolicy(qt, { acting: { width: 16, candidates: 8 } }), (error: unknown) => error instanceof ActingSettingsError
      && /^width: not an acting setting \(the weights were trained with it\); acting settings of a qt policy: targetReturns, candidates, selection, criticReturn$/.test(error.message));
    // one candidate per target at least, as the config schema says
    assert.throws(() => loadPolicy(qt, { acting: { candidates: 1 } }), /invalid acting setting: candidates: needs at least one candidate per target return \(2\)/);
    assert.throws(() => loadPolicy(qt, { acting: { selection: 'greedy' } }), ActingSettingsError);
    assert.throws(() => loadPolicy(qt, { acting: { candidate: 8 } }), /^ActingSettingsError: candidate: no such qt setting; acting settings of a qt policy/);
    const reinformer = writeTinyPolicy('reinformer', dir).path;
    assert.throws(() => loadPolicy(reinformer, { acting: { expectile: 0.5 } }), /expectile: not an acting setting .*; a reinformer policy has no acting settings/);
  });

  it('refuses a URL it cannot read synchronously, with one clear line', () => {
    assert.throws(() => loadPolicy(new URL('https://example.com/policy.safetensors')), /only file: URLs are read here; fetch the bytes and call policyFromBytes/);
  });

  it('Reinformer reports the return it predicted at the first step (reward units); DT predicts none', () => {
    const dir = tempDir();
    const reinformer = loadPolicy(writeTinyPolicy('reinformer', dir).path);
    assert.equal(reinformer.predictedReturn(), undefined, 'nothing predicted before the first step');
    reinformer.act(Float64Array.of(0.3, -0.1, 0.2));
    const predicted = reinformer.predictedReturn();
    assert.ok(predicted !== undefined && Number.isFinite(predicted));
    // pass 1's prediction sits in the window at slot 0 in network units (return / scale)
    const vector = reinformer.createVectorPolicy(1);
    vector.beginEpisode(0, 0, 0);
    vector.act(Float64Array.of(0.3, -0.1, 0.2), Uint8Array.of(1), new Float32Array(A));
    assert.equal(vector.firstPredictedReturn?.(0), predicted);
    reinformer.observeReward(1);
    reinformer.act(Float64Array.of(0, 0, 0));
    assert.equal(reinformer.predictedReturn(), predicted, 'the first step\'s prediction is kept for the episode');
    reinformer.reset();
    assert.equal(reinformer.predictedReturn(), undefined, 'a new episode clears it');

    const dt = loadPolicy(writeTinyPolicy('dt', dir).path);
    dt.act(Float64Array.of(0, 0, 0));
    assert.equal(dt.predictedReturn(), undefined);
    const qt = loadPolicy(writeTinyPolicy('qt', dir).path);
    qt.act(Float64Array.of(0, 0, 0));
    assert.equal(qt.candidateChoices()?.reduce((total, choice) => total + choice.chosen, 0), 1);
  });
});
