/**
 * heldOutActionError on tiny trained runs: deterministic under a seed, scores real positions only,
 * normalises states with the policy file's (training) statistics, and refuses trajectories of
 * other dimensions.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { DataFileError } from '../../src/data/errors.js';
import { loadDataset } from '../../src/data/load.js';
import { TrajectoryStore } from '../../src/data/store.js';
import { heldOutActionError } from '../../src/train/offline-eval.js';
import { startRun } from '../../src/train/trainer.js';
import { captureIO, smallMazeDataset, tempDir, tinyConfig } from './fixture.js';

/** the first `rows` rows of a store, cut into trajectories of `length` steps (the last may be shorter) */
function reSegmented(store: TrajectoryStore, rows: number, length: number): TrajectoryStore {
  const starts: number[] = [];
  for (let start = 0; start < rows; start += length) starts.push(start);
  starts.push(rows);
  return new TrajectoryStore(store.obsDim, store.actionDim, {
    observations: store.observations.slice(0, rows * store.obsDim),
    actions: store.actions.slice(0, rows * store.actionDim),
    rewards: store.rewards.slice(0, rows),
    terminated: new Uint8Array(rows),
    truncated: new Uint8Array(rows),
    episodeStarts: Int32Array.from(starts),
  });
}

/** the same trajectories with every observation moved by `offset` */
function shifted(store: TrajectoryStore, offset: number): TrajectoryStore {
  return new TrajectoryStore(store.obsDim, store.actionDim, {
    observations: store.observations.map((value) => value + offset),
    actions: store.actions, rewards: store.rewards, terminated: store.terminated, truncated: store.truncated,
    episodeStarts: store.episodeStarts,
  });
}

/** the store with its last observation dimension dropped */
function withoutLastDimension(store: TrajectoryStore): TrajectoryStore {
  const dim = store.obsDim - 1;
  const observations = new Float32Array(store.transitionCount * dim);
  for (let i = 0; i < store.transitionCount; i++) observations.set(store.observations.subarray(i * store.obsDim, i * store.obsDim + dim), i * dim);
  return new TrajectoryStore(dim, store.actionDim, {
    observations, actions: store.actions, rewards: store.rewards, terminated: store.terminated, truncated: store.truncated,
    episodeStarts: store.episodeStarts,
  });
}

const ALGOS = ['dt', 'reinformer', 'rvdt'] as const;

describe('heldOutActionError', () => {
  let store: TrajectoryStore;
  const policies: Record<string, string> = {};
  before(async () => {
    const dir = tempDir();
    const dataset = await smallMazeDataset(dir);
    store = (await loadDataset(dataset)).store;
    for (const algo of ALGOS) {
      const run = join(dir, algo);
      await startRun(run, tinyConfig(dataset, algo, { steps: 20, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 0, logEvery: 10 }), captureIO());
      policies[algo] = join(run, 'policy.safetensors');
    }
  });

  for (const algo of ALGOS) {
    it(`${algo}: deterministic under a seed, another seed draws other windows`, () => {
      const path = policies[algo] as string;
      const first = heldOutActionError(path, store, { batches: 6, seed: 3 });
      assert.deepEqual(heldOutActionError(path, store, { batches: 6, seed: 3 }), first);
      assert.notEqual(heldOutActionError(path, store, { batches: 6, seed: 4 }).action_mse, first.action_mse);
      assert.equal(first.algo, algo);
      assert.equal(first.step, 20);
      assert.equal(first.batches, 6);
      assert.equal(first.batch_size, 8, "the algorithm config's batchSize");
      assert.equal(first.windows, 48);
      assert.equal(first.context_length, 4);
      assert.ok(first.action_mse > 0 && first.action_mse < 4, `MSE ${first.action_mse} of actions in [-1, 1]`);
      assert.ok(first.standard_error !== null && first.standard_error > 0);
      assert.ok(first.batch_mse_std !== null);
      assert.ok(Math.abs(first.standard_error - first.batch_mse_std / Math.sqrt(6)) < 1e-12);
      const single = heldOutActionError(path, store, { batches: 1 });
      assert.equal(single.standard_error, null, 'no spread from one batch');
      assert.equal(single.seed, 0, 'the default seed');
    });

    it(`${algo}: scores the real positions only`, () => {
      // one-step trajectories: every window holds one real step and K - 1 padded ones (DT pads actions with -10)
      const oneStep = reSegmented(store, 200, 1);
      const result = heldOutActionError(policies[algo] as string, oneStep, { batches: 5, seed: 1 });
      assert.equal(result.positions, result.windows, 'one real position per window');
      assert.ok(result.action_mse <= 4, `padding would add (−10 − â)² ≥ 81 for DT; MSE ${result.action_mse}`);
      // windows of full length hold K real positions each
      const long = heldOutActionError(policies[algo] as string, reSegmented(store, 2000, 100), { batches: 5, seed: 1 });
      assert.ok(long.positions > long.windows && long.positions <= long.windows * long.context_length);
    });
  }

  it('normalises states with the training statistics from the policy file, not the held-out data', () => {
    const path = policies.dt as string;
    const original = heldOutActionError(path, store, { batches: 10, seed: 2 });
    // the held-out data's own statistics would normalise the shift away and give the same error
    const moved = heldOutActionError(path, shifted(store, 1.5), { batches: 10, seed: 2 });
    assert.equal(moved.positions, original.positions, 'the same windows');
    assert.ok(Math.abs(moved.action_mse - original.action_mse) > 1e-3 * original.action_mse, `${moved.action_mse} vs ${original.action_mse}`);
    const copy = heldOutActionError(path, shifted(store, 0), { batches: 10, seed: 2 });
    assert.equal(copy.action_mse, original.action_mse);
  });

  it('epoch sampling (Reinformer) draws at most one window per held-out trajectory and batch', () => {
    const few = reSegmented(store, 300, 100);
    const result = heldOutActionError(policies.reinformer as string, few, { batches: 4 });
    assert.equal(result.batch_size, 3, 'capped at the 3 trajectories');
    assert.throws(() => heldOutActionError(policies.reinformer as string, few, { batchSize: 8 }),
      (error: unknown) => error instanceof DataFileError && /epoch sampling puts 8 distinct trajectories in a batch but the store has only 3/.test(error.message));
  });

  it('refuses trajectories of other dimensions and bad options', () => {
    const path = policies.dt as string;
    assert.throws(() => heldOutActionError(path, withoutLastDimension(store), { datasetName: 'small.hdf5' }),
      (error: unknown) => error instanceof DataFileError && /^small\.hdf5: observations 3-d and actions 2-d, but the policy .* reads 4-d observations and 2-d actions$/.test(error.message));
    assert.throws(() => heldOutActionError(path, store, { batches: 0 }), /batches must be an integer >= 1/);
    assert.throws(() => heldOutActionError(path, store, { seed: -1 }), /seed must be an integer >= 0/);
  });
});
