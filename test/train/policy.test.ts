import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { evaluatePolicy } from '../../src/envs/evaluate.js';
import type { VectorPolicy } from '../../src/envs/policies.js';
import { makeEnv } from '../../src/envs/registry.js';
import type { EvaluationRecord } from '../../src/train/evaluate.js';
import { loadPolicy, type Policy } from '../../src/index.js';
import { startRun } from '../../src/train/trainer.js';
import { captureIO, smallMazeDataset, tempDir, tinyConfig } from './fixture.js';

// dense rewards: every action moves the return, so equal returns mean equal actions
const DENSE_ENV = 'maze2d-umaze-dense-v1';

/** drives the single-environment API from the evaluation loop (one environment at a time) */
function singleEnvAdapter(policy: Policy): VectorPolicy {
  return {
    beginEpisode: (_env, _episode, seed) => policy.reset(seed),
    act: (observations, active, actions) => {
      if (active[0] === 1) actions.set(policy.act(observations.subarray(0, 4)));
    },
    observeRewards: (rewards, active) => {
      if (active[0] === 1) policy.observeReward(rewards[0]!);
    },
  };
}

describe('loadPolicy', () => {
  let run: string;
  let last: EvaluationRecord;
  before(async () => {
    const dir = tempDir();
    const dataset = await smallMazeDataset(dir);
    run = join(dir, 'run');
    // training evaluates the episodes side by side in one batch; the single-environment API runs them one by one
    const config = tinyConfig(dataset, 'dt', { env: DENSE_ENV, steps: 30, evalEvery: 0, evalEpisodes: 3, evalEnvs: 32, seed: 4 });
    await startRun(run, config, captureIO());
    last = (JSON.parse(readFileSync(join(run, 'eval.json'), 'utf8')) as { last: EvaluationRecord }).last;
  });

  it('policy.act() reproduces the training-time evaluation episode by episode', async () => {
    for (const condition of last.conditions) {
      const policy = loadPolicy(join(run, 'policy.safetensors'), { condition: condition.label, seed: last.seed });
      const result = await evaluatePolicy(DENSE_ENV, singleEnvAdapter(policy), { episodes: last.episodes, seed: last.seed, numEnvs: 1 });
      assert.ok(condition.returns.some((value) => value > 0), 'dense rewards make the comparison meaningful');
      assert.deepEqual(result.returns, condition.returns, condition.label);
      assert.deepEqual(result.lengths, condition.lengths);
    }
  });

  it('exposes the header and conditions, and guards the act / observeReward order', async () => {
    const policy = loadPolicy(join(run, 'policy.safetensors'));
    assert.equal(policy.header.envId, DENSE_ENV);
    assert.deepEqual(policy.conditions.map((c) => c.label), ['target 60', 'target 20']);
    const env = await makeEnv(DENSE_ENV, { seed: 1 });
    try {
      const first = env.reset(7).observation;
      const action = policy.act(first);
      assert.equal(action.length, 2);
      assert.ok(action.every((a) => a >= -1 && a <= 1));
      assert.throws(() => policy.act(first), /call observeReward\(reward\) after each environment step/);
      policy.observeReward(env.step(action).reward);
      policy.reset();
      assert.deepEqual(policy.act(first), action, 'reset clears the history');
    } finally {
      env.close();
    }
    assert.throws(() => loadPolicy(join(run, 'policy.safetensors'), { condition: 'target 9' }), /no evaluation condition 'target 9'/);
    assert.throws(() => loadPolicy(join(run, 'config.json')), /policy\.safetensors|safetensors|header/);
  });
});
