import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/engine/rng.js';
import { returnsToGo } from '../../src/data/preprocess.js';
import { WindowSampler, samplingRulesFor } from '../../src/data/sampler.js';
import { TrajectoryStore, segmentEpisodes } from '../../src/data/store.js';
import { syntheticArrays } from './helpers.js';

function storeOf(lengths: number[]): TrajectoryStore {
  const arrays = syntheticArrays(lengths, { obsDim: 2, actionDim: 1 });
  return TrajectoryStore.fromArrays(arrays, segmentEpisodes(arrays.terminals, arrays.timeouts));
}

test('kzl DT windows: left padding with -10 actions, raw-zero states, mask and clipped timesteps', () => {
  const store = storeOf([3]);
  const stats = { mean: Float32Array.of(1, 1), std: Float32Array.of(2, 2) };
  const sampler = new WindowSampler(store, { ...samplingRulesFor('dt'), maxEpisodeLength: 2, batchSize: 1, contextLength: 5, returnsToGo: returnsToGo(store), stateStatistics: stats }, new Rng(1));
  const batch = sampler.sample();
  const start = batch.starts[0]!;
  const real = 3 - start;
  assert.deepEqual(Array.from(batch.mask), [...Array(5 - real).fill(0), ...Array(real).fill(1)]);
  assert.equal(batch.actions[0], -10);
  assert.equal(batch.states[0], -0.5); // (0 - mean) / std
  const lastRow = 2;
  assert.equal(batch.states[8], (store.observations[lastRow * 2]! - 1) / 2);
  assert.equal(batch.timesteps[4], Math.min(2, 1)); // step 2 clipped to maxEpisodeLength - 1
  assert.equal(batch.returnsToGo[4], store.rewards[2]);
});

test('Reinformer windows: full windows when L >= K, whole short trajectory right-padded, B distinct per batch', () => {
  const store = storeOf([2, 6, 6, 6]);
  const sampler = new WindowSampler(store, { ...samplingRulesFor('reinformer'), batchSize: 4, contextLength: 4, returnsToGo: returnsToGo(store) }, new Rng(3));
  for (let round = 0; round < 5; round++) {
    const batch = sampler.sample();
    assert.deepEqual(Array.from(batch.episodes).sort(), [0, 1, 2, 3]);
    for (let b = 0; b < 4; b++) {
      const mask = Array.from(batch.mask.subarray(b * 4, b * 4 + 4));
      if (batch.episodes[b] === 0) {
        assert.deepEqual(mask, [1, 1, 0, 0]);
        assert.deepEqual(Array.from(batch.timesteps.subarray(b * 4, b * 4 + 4)), [0, 1, 2, 3]);
      } else {
        assert.deepEqual(mask, [1, 1, 1, 1]);
        assert.ok(batch.starts[b]! <= 2);
      }
    }
  }
  assert.throws(() => new WindowSampler(store, { ...samplingRulesFor('reinformer'), batchSize: 5, contextLength: 4, returnsToGo: returnsToGo(store) }, new Rng(3)), /only 4/);
});

test('QT hopper-medium rule: starts in {0..L-K-1}, refuses trajectories with L <= K', () => {
  assert.equal(samplingRulesFor('qt', 'hopper-medium-replay-v2').startRule, 'qt-hopper-medium');
  assert.equal(samplingRulesFor('qt', 'walker2d-medium-v2').startRule, 'any');
  const store = storeOf([8, 9]);
  const sampler = new WindowSampler(store, { ...samplingRulesFor('qt', 'hopper-medium-v2'), batchSize: 64, contextLength: 5, returnsToGo: returnsToGo(store) }, new Rng(5));
  const batch = sampler.sample();
  for (let b = 0; b < 64; b++) assert.ok(batch.starts[b]! <= store.episodeLength(batch.episodes[b]!) - 5 - 1);
  assert.ok(batch.mask.every((m) => m === 1));
  assert.throws(() => new WindowSampler(storeOf([5, 9]), { ...samplingRulesFor('qt', 'hopper-medium-v2'), batchSize: 1, contextLength: 5, returnsToGo: new Float32Array(14) }, new Rng(5)), /episode 0, length 5/);
});

test('length-weighted sampling picks trajectories in proportion to length; uniform does not', () => {
  const store = storeOf([10, 90]);
  const count = (rules: ReturnType<typeof samplingRulesFor>): number => {
    const sampler = new WindowSampler(store, { ...rules, batchSize: 1000, contextLength: 3, returnsToGo: returnsToGo(store) }, new Rng(9));
    return sampler.sample().episodes.filter((e) => e === 1).length;
  };
  const weighted = count(samplingRulesFor('dt'));
  const uniform = count({ ...samplingRulesFor('dt'), trajectorySampling: 'uniform' });
  assert.ok(weighted > 860 && weighted < 940, `weighted ${weighted}`);
  assert.ok(uniform > 450 && uniform < 550, `uniform ${uniform}`);
});

test('same seed, same batches; the batch object is reused; a 256x20 batch costs well under 1 ms', () => {
  const store = storeOf(Array.from({ length: 200 }, (_, i) => 50 + (i % 13) * 20));
  const options = { ...samplingRulesFor('dt'), batchSize: 256, contextLength: 20, returnsToGo: returnsToGo(store) };
  const a = new WindowSampler(store, options, new Rng(42));
  const b = new WindowSampler(store, options, new Rng(42));
  const first = a.sample();
  assert.deepEqual(Array.from(first.states), Array.from(b.sample().states));
  assert.equal(a.sample(), first);
  for (let i = 0; i < 50; i++) a.sample();
  // CPU time, not wall time: the machine is shared and wall time measures the neighbours.
  const before = process.cpuUsage();
  for (let i = 0; i < 200; i++) a.sample();
  const used = process.cpuUsage(before);
  const microseconds = (used.user + used.system) / 200;
  assert.ok(microseconds < 1000, `${microseconds.toFixed(0)} µs of CPU per batch`);
});
