import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluatePolicy } from '../../src/envs/evaluate.js';
import { makeBuiltinPolicy } from '../../src/envs/policies.js';
import { envIds, envSpec, makeVectorEnv } from '../../src/envs/registry.js';
import { hasReferenceScores, normalizedScore, normalizedStd, referenceScores } from '../../src/envs/scores.js';

describe('VectorEnv', () => {
  it('manual reset: finished environments stay done until resetEnv', async () => {
    const vec = await makeVectorEnv('maze2d-open-v0', 3, { seed: 4 });
    const first = vec.reset(4);
    assert.equal(first.length, 12);
    const actions = new Float32Array(6).fill(0.2);
    for (let t = 1; t < 150; t++) assert.deepEqual([...vec.step(actions).active], [1, 1, 1]);
    const last = vec.step(actions);
    assert.deepEqual([...last.truncated], [1, 1, 1]);
    assert.equal(last.finalObservations, null);
    const after = vec.step(actions);
    assert.deepEqual([...after.active], [0, 0, 0]);
    assert.deepEqual([...after.rewards], [0, 0, 0]);
    assert.deepEqual([...after.observations], [...last.observations]);
    vec.resetEnv(1, 9);
    assert.deepEqual([...vec.step(actions).active], [0, 1, 0]);
    assert.throws(() => vec.step(new Float32Array(5)), /\[3, 2\] = 6 numbers, got 5/);
    vec.close();
  });

  it('auto reset: the final observation is reported and the row restarts', async () => {
    const vec = await makeVectorEnv('maze2d-open-v0', 2, { autoReset: true });
    vec.reset(0);
    const actions = new Float32Array(4);
    let result = vec.step(actions);
    for (let t = 1; t < 150; t++) result = vec.step(actions);
    assert.deepEqual([...result.truncated], [1, 1]);
    assert.ok(result.finalObservations !== null);
    assert.notDeepEqual([...result.finalObservations.subarray(0, 2)], [...result.observations.subarray(0, 2)]);
    assert.deepEqual([...vec.step(actions).active], [1, 1]);
    vec.close();
  });

  it('evaluation gives the same episodes whatever the number of parallel environments', async () => {
    const spec = envSpec('maze2d-umaze-v1');
    const one = await evaluatePolicy(spec.id, makeBuiltinPolicy('random', spec), { episodes: 5, seed: 3, numEnvs: 1 });
    const four = await evaluatePolicy(spec.id, makeBuiltinPolicy('random', spec), { episodes: 5, seed: 3, numEnvs: 4 });
    assert.deepEqual(one.returns, four.returns);
    assert.deepEqual(one.lengths, [300, 300, 300, 300, 300]);
    const other = await evaluatePolicy(spec.id, makeBuiltinPolicy('planner', spec), { episodes: 5, seed: 4, numEnvs: 4 });
    assert.notDeepEqual(one.returns, other.returns);
  });
});

describe('scripted expert', () => {
  // D4RL's REF_MAX_SCORE came from its reference script (one controller, no replanning after the
  // first episode), so that policy should land near 100; a controller that replans every episode
  // is a much better navigator.
  for (const id of ['maze2d-umaze-v1', 'maze2d-medium-v1', 'maze2d-large-v1', 'maze2d-umaze-dense-v1']) {
    it(`${id}: expert near 100, planner far above, random and zero far below`, async () => {
      const spec = envSpec(id);
      const expert = await evaluatePolicy(id, makeBuiltinPolicy('expert', spec), { episodes: 40, seed: 0 });
      const planner = await evaluatePolicy(id, makeBuiltinPolicy('planner', spec), { episodes: 20, seed: 0 });
      const random = await evaluatePolicy(id, makeBuiltinPolicy('random', spec), { episodes: 10, seed: 0 });
      assert.ok((expert.normalized_score as number) > 55 && (expert.normalized_score as number) < 150, `expert ${expert.normalized_score}`);
      assert.ok((planner.normalized_score as number) > 120, `planner ${planner.normalized_score}`);
      assert.ok((random.normalized_score as number) < 25, `random ${random.normalized_score}`);
    });
  }
});

describe('normalized scores', () => {
  it('maps the reference returns to 0 and 100', () => {
    assert.equal(normalizedScore('maze2d-umaze-v1', 23.85), 0);
    assert.ok(Math.abs(normalizedScore('maze2d-umaze-v1', 161.86) - 100) < 1e-9);
    assert.ok(Math.abs(normalizedScore('maze2d-large-dense-v1', 303.4857382709002) - 100) < 1e-9);
    assert.ok(Math.abs(normalizedScore('hopper-medium-replay-v2', 3234.3) - 100) < 1e-9);
    assert.equal(normalizedScore('antmaze-large-play-v2', 0.7), 70);
    assert.equal(normalizedScore('kitchen-mixed-v0', 2), 50);
  });

  it('scales the standard deviation without subtracting the minimum', () => {
    assert.ok(Math.abs(normalizedStd('hopper-medium-v2', 100) - (100 * 100) / (3234.3 + 20.272305)) < 1e-12);
    assert.ok(Math.abs(normalizedStd('maze2d-medium-v1', 26.426) - 10) < 1e-9);
    assert.equal(normalizedStd('walker2d-expert-v2', 0), 0);
  });

  it('covers every family in the spec, sparse file names, and every registered env', () => {
    for (const id of [
      'maze2d-open-v0', 'maze2d-open-dense-v0', 'maze2d-eval-large-dense-v1', 'maze2d-umaze-v0', 'maze2d-umaze-sparse-v1',
      'antmaze-umaze-v0', 'antmaze-medium-diverse-v2', 'halfcheetah-full-replay-v2', 'hopper-random-v0', 'walker2d-medium-expert-v1',
      'ant-expert-v2', 'pen-human-v1', 'hammer-cloned-v0', 'door-expert-v1', 'relocate-human-v0', 'kitchen-complete-v0', 'kitchen-partial-v0',
    ]) assert.ok(hasReferenceScores(id), id);
    for (const id of envIds()) assert.ok(hasReferenceScores(id), id);
    assert.deepEqual(referenceScores('maze2d-medium-dense-v1'), { min: 44.264742, max: 297.4552547777125 });
    assert.throws(() => normalizedScore('hopper-medium-v3', 1), /no D4RL reference scores for 'hopper-medium-v3'/);
  });
});
