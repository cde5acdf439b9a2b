import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { saveDataset } from '../../src/data/load.js';
import { FIXTURES, syntheticArrays, tempDir } from './helpers.js';

function stitch(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['dist/src/cli/main.js', 'data', ...args], { encoding: 'utf8' });
}

test('data info --json on the h5py-generated D4RL file reports the right counts', () => {
  const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as Record<string, number>;
  const result = stitch('info', join(FIXTURES, 'maze2d-tiny.hdf5'), '--json');
  assert.equal(result.status, 0, result.stderr);
  const info = JSON.parse(result.stdout) as { rows: number; transitions: number; episodes: number; obsDim: number; actionDim: number; return: { min: number; mean: number; max: number }; episodeLength: { min: number; max: number } };
  assert.equal(info.rows, expected.rows);
  assert.equal(info.transitions, expected.transitions);
  assert.equal(info.episodes, expected.episodes);
  assert.equal(info.obsDim, expected.obsDim);
  assert.equal(info.actionDim, expected.actionDim);
  assert.equal(info.return.min, expected.returnMin);
  assert.equal(info.return.max, expected.returnMax);
  assert.ok(Math.abs(info.return.mean - expected.returnMean!) < 1e-9);
  assert.deepEqual(info.episodeLength.min, 1);
});

test('data check exit codes: 0 clean, 1 findings (warnings only with --strict), 2 unreadable, no stack trace', async () => {
  const dir = tempDir();
  const clean = join(dir, 'clean.hdf5');
  await saveDataset(clean, syntheticArrays([5, 6]));
  assert.equal(stitch('check', clean).status, 0);
  const fixture = join(FIXTURES, 'maze2d-tiny.hdf5');
  assert.equal(stitch('check', fixture).status, 0);
  const strict = stitch('check', fixture, '--strict');
  assert.equal(strict.status, 1);
  assert.match(strict.stdout, /error: .*maze2d-tiny\.hdf5: terminals\/timeouts\[550\]: 50 rows after the last episode boundary/);
  const nan = syntheticArrays([5]);
  nan.rewards[2] = Number.NaN;
  await saveDataset(join(dir, 'nan.hdf5'), nan);
  assert.equal(stitch('check', join(dir, 'nan.hdf5')).status, 1);
  writeFileSync(join(dir, 'corrupt.hdf5'), readFileSync(fixture).subarray(0, 3000));
  const corrupt = stitch('check', join(dir, 'corrupt.hdf5'));
  assert.equal(corrupt.status, 2);
  assert.equal(corrupt.stderr.trim().split('\n').length, 1);
  assert.match(corrupt.stderr, /^stitch: .*corrupt\.hdf5: corrupt or truncated HDF5 file: /);
});

test('data convert D4RL -> Minari -> JSONL -> D4RL keeps the episodes', () => {
  const dir = tempDir();
  const minari = join(dir, 'minari-out');
  const jsonl = join(dir, 'out.jsonl');
  const back = join(dir, 'back.hdf5');
  assert.equal(stitch('convert', join(FIXTURES, 'maze2d-tiny.hdf5'), minari).status, 0);
  assert.equal(stitch('convert', minari, jsonl).status, 0);
  assert.equal(stitch('convert', jsonl, back).status, 0);
  const info = JSON.parse(stitch('info', back, '--json').stdout) as { transitions: number; episodes: number; rows: number };
  assert.deepEqual([info.rows, info.transitions, info.episodes], [550, 550, 5]);
});
