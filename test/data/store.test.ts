import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadDataset, inspectDataset } from '../../src/data/load.js';
import { returnsToGo, selectExpertSubset, stateStatistics, transformRewards } from '../../src/data/preprocess.js';
import { TrajectoryStore, segmentEpisodes } from '../../src/data/store.js';
import { FIXTURES, syntheticArrays } from './helpers.js';

test('segmentation closes on terminal or timeout and drops (and counts) trailing rows', () => {
  const terminals = Uint8Array.of(0, 1, 0, 0, 1, 0, 0);
  const timeouts = Uint8Array.of(0, 0, 1, 0, 1, 0, 0);
  const segmentation = segmentEpisodes(terminals, timeouts);
  assert.deepEqual(Array.from(segmentation.episodeStarts), [0, 2, 3, 5]);
  assert.equal(segmentation.trailingDropped, 2);
  assert.equal(segmentation.terminalAndTimeout, 1);
  assert.equal(segmentation.firstTerminalAndTimeout, 4);
});

test('without a timeouts key episodes close every 1000 steps since the last boundary', () => {
  const terminals = new Uint8Array(2600);
  terminals[1499] = 1;
  const segmentation = segmentEpisodes(terminals, new Uint8Array(2600), { timeoutsPresent: false });
  assert.deepEqual(Array.from(segmentation.episodeStarts), [0, 1000, 1500, 2500]);
  assert.equal(segmentation.fallbackBoundaries, 2);
  assert.equal(segmentation.trailingDropped, 100);
});

test('the store views the input arrays without copying and keeps terminated and truncated apart', () => {
  const arrays = syntheticArrays([3, 2], { terminalEpisodes: [1], trailing: 2 });
  arrays.timeouts[4] = 1; // terminal and timeout on the same row: terminated wins
  const store = TrajectoryStore.fromArrays(arrays, segmentEpisodes(arrays.terminals, arrays.timeouts));
  assert.equal(store.observations.buffer, arrays.observations.buffer);
  assert.equal(store.transitionCount, 5);
  assert.deepEqual(Array.from(store.terminated), [0, 0, 0, 0, 1]);
  assert.deepEqual(Array.from(store.truncated), [0, 0, 1, 0, 0]);
  assert.deepEqual(Array.from(store.episodeRewards(1)), [1.5, 2]);
  assert.deepEqual(Array.from(store.episodeReturns()), [1.5, 3.5]);
});

test('the h5py fixture gives the counts, returns and state statistics h5py/numpy computed', async () => {
  const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as Record<string, number & number[]>;
  const loaded = await inspectDataset(join(FIXTURES, 'maze2d-tiny.hdf5'));
  const { store } = loaded;
  assert.equal(store.transitionCount, expected.transitions);
  assert.equal(store.episodeCount, expected.episodes);
  const returns = Array.from(store.episodeReturns());
  assert.equal(Math.min(...returns), expected.returnMin);
  assert.equal(Math.max(...returns), expected.returnMax);
  const { mean, std } = stateStatistics(store);
  for (let d = 0; d < 4; d++) {
    assert.ok(Math.abs(mean[d]! - expected.stateMean[d]!) < 1e-6, `mean[${d}]`);
    assert.ok(Math.abs(std[d]! - expected.stateStd[d]!) < 1e-6, `std[${d}]`);
  }
  const codes = loaded.findings.map((item) => `${item.code}@${item.index}x${item.count}`).sort();
  assert.deepEqual(codes, [`one-step-episode@100x1`, `terminal-and-timeout@399x1`, `trailing-transitions@550x${expected.trailing}`]);
  await assert.rejects(loadDataset(join(FIXTURES, 'maze2d-tiny.hdf5'), { strict: true }), /3 health error\(s\)/);
});

test('return-to-go is the undiscounted suffix sum inside each episode, divided by the scale', () => {
  const arrays = syntheticArrays([3, 2]);
  arrays.rewards.set([1, 2, 3, 10, 20]);
  const store = TrajectoryStore.fromArrays(arrays, segmentEpisodes(arrays.terminals, arrays.timeouts));
  assert.deepEqual(Array.from(returnsToGo(store, { scale: 2 })), [3, 2.5, 1.5, 15, 10]);
  assert.throws(() => returnsToGo(store, { scale: 0 }), /positive/);
});

test('reward transforms of Reinformer (100r+1) and QT (4(r-0.5)) are applied to a copy', () => {
  const rewards = Float32Array.of(0, 1);
  assert.deepEqual(Array.from(transformRewards(rewards, 'antmaze-reinformer')), [1, 101]);
  assert.deepEqual(Array.from(transformRewards(rewards, 'antmaze-reinformer-legacy')), [0, 100]);
  assert.deepEqual(Array.from(transformRewards(rewards, 'qt-cql-antmaze')), [-2, 2]);
  assert.deepEqual(Array.from(rewards), [0, 1]);
});

test('expert subset keeps the top fraction of trajectories by return', () => {
  const lengths = Array.from({ length: 30 }, () => 2);
  const arrays = syntheticArrays(lengths);
  for (let e = 0; e < 30; e++) arrays.rewards.set([e % 7, 0], e * 2);
  const store = TrajectoryStore.fromArrays(arrays, segmentEpisodes(arrays.terminals, arrays.timeouts));
  const subset = selectExpertSubset(store, { fraction: 0.1 });
  assert.deepEqual(Array.from(subset.episodes), [6, 13, 20]);
  assert.equal(subset.threshold, 6);
  assert.equal(subset.isExpert.reduce((a, b) => a + b, 0), 3);
  assert.throws(() => selectExpertSubset(store, { fraction: 0 }), /fraction/);
});
