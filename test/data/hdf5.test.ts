import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import h5wasm from 'h5wasm/node';
import { DataFileError } from '../../src/data/errors.js';
import { readD4rlHdf5, readD4rlHdf5WithFindings, writeD4rlHdf5 } from '../../src/data/hdf5.js';
import { hdf5Ready } from '../../src/data/hdf5-access.js';
import { FIXTURES, syntheticArrays, tempDir } from './helpers.js';

const hasH5py = spawnSync('/usr/bin/python3', ['-c', 'import h5py'], { encoding: 'utf8' }).status === 0;

test('writeD4rlHdf5 then readD4rlHdf5 returns identical arrays, infos and attributes', async () => {
  const arrays = syntheticArrays([4, 1, 6], { terminalEpisodes: [1] });
  arrays.infos = { goal: { data: Float32Array.from({ length: 11 * 2 }, (_, i) => i * 0.5), dim: 2 }, 'nested/flag': { data: new Float32Array(11).fill(3), dim: 1 } };
  arrays.attributes = { env_id: 'maze2d-umaze-v1', seed: 17 };
  const path = join(tempDir(), 'out.hdf5');
  await writeD4rlHdf5(path, arrays);
  const back = await readD4rlHdf5(path);
  assert.deepEqual(back.observations, arrays.observations);
  assert.deepEqual(back.actions, arrays.actions);
  assert.deepEqual(back.rewards, arrays.rewards);
  assert.deepEqual(back.terminals, arrays.terminals);
  assert.deepEqual(back.timeouts, arrays.timeouts);
  assert.equal(back.obsDim, 3);
  assert.equal(back.actionDim, 2);
  assert.deepEqual(back.infos?.goal, arrays.infos.goal);
  assert.deepEqual(back.infos?.['nested/flag'], arrays.infos['nested/flag']);
  assert.deepEqual(back.attributes, arrays.attributes);
});

test('writes are atomic: no temporary file is left and a failed write keeps the old file', async () => {
  const dir = tempDir();
  const path = join(dir, 'data.hdf5');
  await writeD4rlHdf5(path, syntheticArrays([3]));
  const bad = syntheticArrays([3]);
  bad.actions = new Float32Array(5);
  await assert.rejects(writeD4rlHdf5(path, bad), /actions has 5 values/);
  assert.deepEqual(readdirSync(dir), ['data.hdf5']);
  assert.equal((await readD4rlHdf5(path)).rewards.length, 3);
});

test('reads the h5py-written fixture (bool flags, gzip, infos/*) with the counts h5py computed', async () => {
  const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as { rows: number; obsDim: number; actionDim: number };
  const { arrays, findings, timeoutsPresent } = await readD4rlHdf5WithFindings(join(FIXTURES, 'maze2d-tiny.hdf5'));
  assert.equal(arrays.rewards.length, expected.rows);
  assert.equal(arrays.obsDim, expected.obsDim);
  assert.equal(arrays.actionDim, expected.actionDim);
  assert.equal(timeoutsPresent, true);
  assert.deepEqual(Object.keys(arrays.infos ?? {}).sort(), ['goal', 'qpos', 'qvel']);
  assert.equal(arrays.attributes?.env, 'maze2d-large-v1');
  assert.deepEqual(findings, []);
});

test('missing required key, wrong dtype and length mismatch name the file and key', async () => {
  await hdf5Ready();
  const dir = tempDir();
  const missing = join(dir, 'missing.hdf5');
  const f = new h5wasm.File(missing, 'w');
  f.create_dataset({ name: 'observations', data: new Float32Array(4), shape: [2, 2] });
  f.close();
  await assert.rejects(readD4rlHdf5(missing), (error: unknown) => error instanceof DataFileError && error.message === `${missing} [actions]: required key is missing (is this a D4RL-layout file?)`);

  const mismatch = join(dir, 'mismatch.hdf5');
  const arrays = syntheticArrays([5]);
  await writeD4rlHdf5(mismatch, arrays);
  const g = new h5wasm.File(mismatch, 'a');
  g.create_dataset({ name: 'next_observations', data: ['a', 'b'] });
  g.close();
  const shortRewards = join(dir, 'short.hdf5');
  const h = new h5wasm.File(shortRewards, 'w');
  h.create_dataset({ name: 'observations', data: new Float32Array(10), shape: [5, 2] });
  h.create_dataset({ name: 'actions', data: new Float32Array(5), shape: [5, 1] });
  h.create_dataset({ name: 'rewards', data: new Float32Array(4), shape: [4] });
  h.create_dataset({ name: 'terminals', data: new Uint8Array(5), shape: [5], dtype: '|b1' });
  h.close();
  await assert.rejects(readD4rlHdf5(shortRewards), /short\.hdf5 \[observations\]: has 5 rows but the shortest required key has 4/);
  const withNext = await readD4rlHdf5WithFindings(mismatch, { nextObservations: true });
  assert.equal(withNext.arrays.nextObservations, undefined);
  assert.ok(withNext.findings.some((item) => item.code === 'info-dropped' && item.key === 'next_observations'));
});

test('a file without timeouts is read with a finding, not an error', async () => {
  await hdf5Ready();
  const path = join(tempDir(), 'no-timeouts.hdf5');
  const h = new h5wasm.File(path, 'w');
  h.create_dataset({ name: 'observations', data: new Float32Array(6), shape: [3, 2] });
  h.create_dataset({ name: 'actions', data: new Float32Array(3), shape: [3] });
  h.create_dataset({ name: 'rewards', data: new Float64Array(3), shape: [3, 1] });
  h.create_dataset({ name: 'terminals', data: Float32Array.of(0, 2, 0), shape: [3] });
  h.close();
  const { arrays, findings, timeoutsPresent } = await readD4rlHdf5WithFindings(path);
  assert.equal(timeoutsPresent, false);
  assert.equal(arrays.actionDim, 1);
  assert.deepEqual(arrays.terminals, Uint8Array.of(0, 1, 0));
  assert.deepEqual(findings.map((item) => item.code).sort(), ['no-timeouts-key', 'non-binary-flag']);
});

test('h5py reads what Stitch writes', { skip: hasH5py ? false : 'python3-h5py not installed' }, async () => {
  const arrays = syntheticArrays([2, 3], { terminalEpisodes: [0] });
  arrays.infos = { goal: { data: new Float32Array(10).fill(2), dim: 2 } };
  arrays.attributes = { env_id: 'maze2d-umaze-v1' };
  const path = join(tempDir(), 'for-python.hdf5');
  await writeD4rlHdf5(path, arrays);
  const script = `import h5py, json, sys
f = h5py.File(sys.argv[1], 'r')
print(json.dumps({'obs': list(f['observations'].shape), 'r': f['rewards'][:].tolist(), 'term': f['terminals'][:].astype(int).tolist(), 'goal': list(f['infos/goal'].shape), 'env': f.attrs['env_id']}))`;
  const result = spawnSync('/usr/bin/python3', ['-c', script, path], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), { obs: [5, 3], r: Array.from(arrays.rewards), term: [0, 1, 0, 0, 0], goal: [5, 2], env: 'maze2d-umaze-v1' });
});
