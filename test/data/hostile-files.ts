/**
 * Builders of hostile dataset files, small on disk: large claims come from HDF5 headers whose
 * chunks were never written, or from sparse files, so nothing close to the claimed size exists.
 * Used by test/data/hostile.test.ts and by scripts/hostile-data-rss.mjs (the peak memory figure
 * in docs/reliability.md).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import h5wasm from 'h5wasm/node';
import type { File as H5File, Group } from 'h5wasm/node';
import { hdf5Ready } from '../../src/data/hdf5-access.js';
import { saveDataset } from '../../src/data/load.js';
import { syntheticArrays } from './helpers.js';

export async function writeHdf5(path: string, build: (file: H5File) => void): Promise<void> {
  await hdf5Ready();
  const file = new h5wasm.File(path, 'w');
  try {
    build(file);
  } finally {
    file.close();
  }
}

/**
 * A dataset that holds the given rows and then claims `claimedRows`: it is created chunked and
 * resizable and then grown, so the new chunks are never written and read back as the fill value.
 */
export function claimRows(group: H5File | Group, name: string, data: Float32Array | Uint8Array, cols: number, claimedRows: number, compress = false): void {
  const rows = data.length / cols;
  const dataset = group.create_dataset({
    name,
    data,
    shape: cols === 1 ? [rows] : [rows, cols],
    dtype: data instanceof Float32Array ? '<f' : '|b1',
    maxshape: cols === 1 ? [null] : [null, cols],
    chunks: cols === 1 ? [1024] : [1024, cols],
    ...(compress ? { compression: 'gzip' as const, compression_opts: 4 } : {}),
  });
  if (claimedRows !== rows) dataset.resize(cols === 1 ? [claimedRows] : [claimedRows, cols]);
}

/** A Minari folder whose episodes are built by `episodes(file)`; returns the main_data.hdf5 path. */
export async function writeMinariFolder(dir: string, episodes: (file: H5File) => void, metadata = '{"dataset_id": "hostile/test-v0"}'): Promise<string> {
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'data', 'metadata.json'), metadata);
  await writeHdf5(join(dir, 'data', 'main_data.hdf5'), episodes);
  return join(dir, 'data', 'main_data.hdf5');
}

/** One Minari episode of `steps` real steps that claims `claimedSteps`. */
export function minariEpisode(file: H5File, name: string, steps: number, claimedSteps = steps, obsDim = 2): void {
  const group = file.create_group(name);
  claimRows(group, 'observations', Float32Array.from({ length: (steps + 1) * obsDim }, (_, i) => i), obsDim, claimedSteps + 1);
  claimRows(group, 'actions', new Float32Array(steps), 1, claimedSteps);
  claimRows(group, 'rewards', new Float32Array(steps).fill(1), 1, claimedSteps);
  claimRows(group, 'terminations', new Uint8Array(steps), 1, claimedSteps);
  const truncations = new Uint8Array(steps);
  truncations[steps - 1] = 1;
  claimRows(group, 'truncations', truncations, 1, claimedSteps);
}

/** A Box action space of one dimension as metadata.json holds it (a JSON string inside JSON). */
export const actionSpaceMetadata = (low: string, high: string): string =>
  JSON.stringify({ action_space: `{"type": "Box", "dtype": "float32", "shape": [1], "low": [${low}], "high": [${high}]}` });

/**
 * A D4RL file of 6 rows whose observations claim 2^32 compressed rows (64 GiB of float32: reading
 * them whole would exceed any machine); returns the 6 rows as written.
 */
export async function writeLengthMismatchBomb(path: string): Promise<ReturnType<typeof syntheticArrays>> {
  const arrays = syntheticArrays([3, 3]);
  await writeHdf5(path, (file) => {
    claimRows(file, 'observations', arrays.observations, 3, 2 ** 32, true);
    claimRows(file, 'actions', arrays.actions, 2, 6);
    claimRows(file, 'rewards', arrays.rewards, 1, 6);
    claimRows(file, 'terminals', arrays.terminals, 1, 6);
    claimRows(file, 'timeouts', arrays.timeouts, 1, 6);
  });
  return arrays;
}

export interface HostileCase {
  label: string;
  /** what `stitch data check` is given */
  path: string;
  /** `stitch data check`'s exit code: 2 refused as unreadable, 1 read with error findings */
  status: 1 | 2;
}

/** Every hostile data file of issue 15 (items 8, 9, 11), built under `dir`. */
export async function buildHostileDataFiles(dir: string): Promise<HostileCase[]> {
  mkdirSync(dir, { recursive: true });
  const cases: HostileCase[] = [];
  const add = (label: string, path: string, status: 1 | 2 = 2): void => void cases.push({ label, path, status });

  const claimed = join(dir, 'claims-80M.hdf5');
  await writeHdf5(claimed, (file) => {
    claimRows(file, 'observations', new Float32Array(8), 4, 80_000_000);
    claimRows(file, 'actions', new Float32Array(4), 2, 80_000_000);
    claimRows(file, 'rewards', new Float32Array(2), 1, 80_000_000);
    claimRows(file, 'terminals', new Uint8Array(2), 1, 80_000_000);
    claimRows(file, 'timeouts', Uint8Array.of(0, 1), 1, 80_000_000);
  });
  add('D4RL HDF5 of 43 KB claiming 80M rows (unwritten chunks)', claimed);

  const deflated = join(dir, 'deflate-claims.hdf5');
  await writeHdf5(deflated, (file) => {
    for (const [name, cols] of [['observations', 4], ['actions', 2], ['rewards', 1]] as const) claimRows(file, name, new Float32Array(4096 * cols), cols, 50_000_000, true);
    claimRows(file, 'terminals', new Uint8Array(4096), 1, 50_000_000, true);
  });
  add('gzip-compressed D4RL HDF5 claiming 50M rows, beyond what deflate can hold', deflated);

  const mismatch = join(dir, 'length-mismatch-bomb.hdf5');
  await writeLengthMismatchBomb(mismatch);
  add('D4RL HDF5 whose observations claim 2^32 compressed rows, the other keys 6 (length mismatch)', mismatch, 1);

  const zeroD4rl = join(dir, 'zero-dim.hdf5');
  await writeZeroDimensionalD4rl(zeroD4rl);
  add('D4RL HDF5 with zero-dimensional observations', zeroD4rl);

  const nanAttributes = join(dir, 'nan-bounds.hdf5');
  await saveDataset(nanAttributes, { ...syntheticArrays([3]), attributes: { action_low: -1, action_high: Number.NaN } });
  add('D4RL HDF5 with a NaN action_high attribute', nanAttributes);

  const unwritten = join(dir, 'minari-unwritten');
  await writeMinariFolder(unwritten, (file) => {
    minariEpisode(file, 'episode_0', 5);
    minariEpisode(file, 'episode_1', 5, 100_000_000);
  });
  add('Minari episode claiming 100M unwritten rows', unwritten);

  const sum = join(dir, 'minari-sum');
  await writeMinariFolder(sum, (file) => {
    for (let e = 0; e < 40; e++) minariEpisode(file, `episode_${e}`, 2, 2 ** 28);
  });
  add('Minari dataset of 40 episodes of 2^28 claimed steps each (past memory only in sum)', sum);

  const ambiguous = join(dir, 'minari-ambiguous');
  await writeMinariFolder(ambiguous, (file) => {
    minariEpisode(file, 'episode_0', 3);
    minariEpisode(file, 'episode_00', 3);
  });
  add('Minari with episode_0 and episode_00', ambiguous);

  const zeroMinari = join(dir, 'minari-zero-dim');
  await writeMinariFolder(zeroMinari, (file) => {
    const episode = file.create_group('episode_0');
    episode.create_group('observations');
    claimRows(episode, 'actions', new Float32Array(2), 1, 2);
    claimRows(episode, 'rewards', new Float32Array(2), 1, 2);
    claimRows(episode, 'terminations', Uint8Array.of(0, 1), 1, 2);
    claimRows(episode, 'truncations', new Uint8Array(2), 1, 2);
  });
  add('Minari with an empty Dict observation (zero dimensions)', zeroMinari);

  const nanMinari = join(dir, 'minari-nan-bounds');
  await writeMinariFolder(nanMinari, (file) => minariEpisode(file, 'episode_0', 3), actionSpaceMetadata('-1', 'NaN'));
  add('Minari with a NaN action bound', nanMinari);

  const bigMetadata = join(dir, 'minari-big-metadata');
  await writeMinariFolder(bigMetadata, (file) => minariEpisode(file, 'episode_0', 3));
  truncateSync(join(bigMetadata, 'data', 'metadata.json'), 40 << 20);
  add('Minari with a 40 MB (sparse) metadata.json', bigMetadata);

  const deviceMetadata = join(dir, 'minari-device-metadata');
  await writeMinariFolder(deviceMetadata, (file) => minariEpisode(file, 'episode_0', 3));
  rmSync(join(deviceMetadata, 'data', 'metadata.json'));
  symlinkSync('/dev/zero', join(deviceMetadata, 'data', 'metadata.json'));
  add('Minari whose metadata.json is a symlink to /dev/zero', deviceMetadata);

  const wide = join(dir, 'wide-header.csv');
  writeFileSync(wide, `${Array.from({ length: 1_000_000 }, (_, i) => `obs_${i}`).join(',')},action_0,reward,terminated\n`);
  add('CSV with a 10^6-column header (11 MB)', wide);

  const wideRow = join(dir, 'wide-row.csv');
  writeFileSync(wideRow, `obs_0,action_0,reward,terminated\n1,0,1,1\n${'0,'.repeat(1_000_000)}0\n`);
  add('CSV with a 10^6-field row', wideRow);

  const hex = join(dir, 'hex.csv');
  writeFileSync(hex, 'obs_0,action_0,reward,terminated\n0x10,0,1,1\n');
  add('CSV with 0x10 as a number', hex);

  const longLine = join(dir, 'long-line.jsonl');
  writeFileSync(longLine, '{"observation":[1],"action":[0],"reward":1,"terminated":true}\n{"observation":[');
  truncateSync(longLine, 300 << 20);
  add('JSONL with one 300 MB line (sparse)', longLine);

  const longCsv = join(dir, 'long-line.csv');
  writeFileSync(longCsv, 'obs_0,action_0,reward,terminated\n1,0,1,1\n');
  truncateSync(longCsv, 300 << 20);
  add('CSV with one 300 MB line (sparse)', longCsv);

  const large = join(dir, 'large.jsonl');
  writeFileSync(large, '{"observation":[1],"action":[0],"reward":1,"terminated":true}\n');
  truncateSync(large, 600 << 20);
  add('JSONL file of 600 MB (sparse)', large);

  const zeroJsonl = join(dir, 'zero-dim.jsonl');
  writeFileSync(zeroJsonl, '{"observation":[],"action":[1],"reward":0,"terminated":true}\n');
  add('JSONL with zero-dimensional observations', zeroJsonl);

  for (const name of ['fifo.csv', 'fifo.jsonl', 'fifo.hdf5']) {
    const path = join(dir, name);
    if (spawnSync('mkfifo', [path]).status !== 0) throw new Error(`mkfifo ${path} failed`);
    add(`${name.slice(5).toUpperCase()} that is a FIFO`, path);
  }
  for (const [name, target] of [['urandom.csv', '/dev/urandom'], ['urandom.jsonl', '/dev/urandom'], ['zero.hdf5', '/dev/zero']] as const) {
    const path = join(dir, name);
    symlinkSync(target, path);
    add(`${name} as a symlink to ${target}`, path);
  }
  return cases;
}

/** a D4RL file of 4 rows whose observations have zero values per row */
export async function writeZeroDimensionalD4rl(path: string): Promise<void> {
  await writeHdf5(path, (file) => {
    file.create_dataset({ name: 'observations', data: new Float32Array(0), shape: [4, 0], dtype: '<f' });
    file.create_dataset({ name: 'actions', data: new Float32Array(4), shape: [4, 1], dtype: '<f' });
    file.create_dataset({ name: 'rewards', data: new Float32Array(4), shape: [4], dtype: '<f' });
    file.create_dataset({ name: 'terminals', data: Uint8Array.of(0, 1, 0, 1), shape: [4], dtype: '|b1' });
  });
}
