/** Shared by the reliability tests: a dataset that yields non-finite losses, a full disk, and run comparison. */
import assert from 'node:assert/strict';
import fs, { readFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { writeD4rlHdf5 } from '../../src/data/hdf5.js';
import { generateMazeDataset } from '../../src/envs/maze2d/generate.js';
import { mazeLayout } from '../../src/envs/maze2d/layouts.js';
import { checkpointPath, listCheckpoints, readCheckpoint } from '../../src/train/checkpoint.js';
import { ENV } from '../train/fixture.js';

/**
 * The small maze dataset with the last two rewards of three episodes at 3e38: finite, so the data
 * layer only warns (absurd magnitude), but their sum overflows float32, so those episodes'
 * returns-to-go (and QT's critic targets) are infinite and any batch holding them gives a NaN loss.
 */
export async function overflowingMazeDataset(dir: string): Promise<{ path: string; poisonedEpisodes: number[] }> {
  const data = await generateMazeDataset({ datasetId: ENV, layout: mazeLayout('umaze'), maxEpisodeSteps: 300, rewardType: 'sparse', steps: 10_000, seed: 5 });
  const ends: number[] = [];
  for (let i = 0; i < data.rewards.length; i++) if (data.timeouts[i] === 1 || data.terminals[i] === 1) ends.push(i);
  const poisonedEpisodes = [3, 40, 90];
  for (const episode of poisonedEpisodes) {
    const end = ends[episode]!;
    data.rewards[end] = 3e38;
    data.rewards[end - 1] = 3e38;
  }
  const path = join(dir, 'umaze-overflow.hdf5');
  await writeD4rlHdf5(path, data, { compression: 'none' });
  return { path, poisonedEpisodes };
}

/**
 * Makes every write to a file whose path and open flags `match` fail the way a full disk does: the first call
 * writes part of its bytes (a real disk fills mid-write), then ENOSPC. Patches node:fs's openSync and
 * writeSync, including the bindings ES modules imported. Returns the function that undoes it.
 */
export function simulateFullDisk(matches: (path: string, flags: string) => boolean): () => void {
  const { openSync, writeSync, closeSync } = fs;
  const failing = new Set<number>();
  const hit: string[] = [];
  const fakeOpen = ((path: fs.PathLike, ...rest: unknown[]) => {
    const fd = (openSync as (...args: unknown[]) => number)(path, ...rest);
    if (typeof path === 'string' && matches(path, typeof rest[0] === 'string' ? rest[0] : 'r')) {
      failing.add(fd);
      hit.push(path);
    }
    return fd;
  }) as typeof fs.openSync;
  const partlyWritten = new Set<number>();
  const fakeWrite = ((fd: number, buffer: Uint8Array, offset?: number, length?: number, ...rest: unknown[]) => {
    if (!failing.has(fd)) return (writeSync as (...args: unknown[]) => number)(fd, buffer, offset, length, ...rest);
    const start = offset ?? 0;
    const count = length ?? buffer.length - start;
    // a partial write first, then the error on the next call, as a filling disk does
    if (!partlyWritten.has(fd) && count > 1) {
      partlyWritten.add(fd);
      return writeSync(fd, buffer, start, Math.floor(count / 2));
    }
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  }) as typeof fs.writeSync;
  const fakeClose = ((fd: number) => {
    failing.delete(fd);
    partlyWritten.delete(fd);
    closeSync(fd);
  }) as typeof fs.closeSync;
  fs.openSync = fakeOpen;
  fs.writeSync = fakeWrite;
  fs.closeSync = fakeClose;
  syncBuiltinESMExports();
  return () => {
    fs.openSync = openSync;
    fs.writeSync = writeSync;
    fs.closeSync = closeSync;
    syncBuiltinESMExports();
    assert.ok(hit.length > 0, 'the simulated full disk was never written to');
  };
}

/** the records with the wall-clock fields removed: everything else must match bit for bit */
export function deterministicLines(path: string): unknown[] {
  return readFileSync(path, 'utf8').trim().split('\n').map((line) => {
    const { time_s: _time, steps_per_s: _rate, ...rest } = JSON.parse(line) as Record<string, number>;
    return rest;
  });
}

/** logs, evaluations, policy bytes, final checkpoint tensors and the report of two runs are identical */
export function assertSameRun(expected: string, actual: string): void {
  for (const name of ['metrics.jsonl', 'evaluations.jsonl']) assert.deepEqual(deterministicLines(join(actual, name)), deterministicLines(join(expected, name)), name);
  assert.deepEqual(readFileSync(join(actual, 'metrics.csv'), 'utf8').split('\n')[0], readFileSync(join(expected, 'metrics.csv'), 'utf8').split('\n')[0]);
  assert.deepEqual(readFileSync(join(actual, 'policy.safetensors')), readFileSync(join(expected, 'policy.safetensors')), 'policy bytes');
  const final = listCheckpoints(expected)[0]!;
  assert.deepEqual(readCheckpoint(checkpointPath(actual, final.step)).tensors, readCheckpoint(final.path).tensors, 'weights and optimiser moments');
  const report = (runDir: string): Record<string, unknown> => JSON.parse(readFileSync(join(runDir, 'eval.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(report(actual), report(expected));
}
