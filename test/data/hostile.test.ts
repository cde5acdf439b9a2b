/**
 * Hostile and awkward dataset files (issue 15 items 8, 9 and 11; issue 21 items 8 and 11). Every
 * file is generated here and small on disk (see hostile-files.ts), so nothing close to a claimed
 * size is ever allocated.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DataFileError } from '../../src/data/errors.js';
import { inspectDataset, loadDataset, saveDataset } from '../../src/data/load.js';
import { readCsv, readJsonl } from '../../src/data/text.js';
import { cgroupMemoryLimit } from '../../src/util/memory-budget.js';
import { syntheticArrays, tempDir } from './helpers.js';
import { actionSpaceMetadata, buildHostileDataFiles, claimRows, minariEpisode, writeHdf5, writeLengthMismatchBomb, writeMinariFolder, writeZeroDimensionalD4rl } from './hostile-files.js';

function stitch(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['dist/src/cli/main.js', 'data', ...args], { encoding: 'utf8', timeout: 60_000 });
}

/** A one-line DataFileError naming the file, whose message matches `pattern`. */
async function assertRefused(promise: Promise<unknown>, path: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof DataFileError, `expected a DataFileError, got ${String(error)}`);
    assert.ok(error.message.startsWith(path), error.message);
    assert.ok(!error.message.includes('\n'), error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

test('a 43 KB D4RL file claiming 80M rows is refused as missing data before anything is read', async () => {
  const dir = tempDir();
  const path = join(dir, 'claims.hdf5');
  const claimed = 80_000_000;
  await writeHdf5(path, (file) => {
    claimRows(file, 'observations', new Float32Array(8), 4, claimed);
    claimRows(file, 'actions', new Float32Array(4), 2, claimed);
    claimRows(file, 'rewards', new Float32Array(2), 1, claimed);
    claimRows(file, 'terminals', new Uint8Array(2), 1, claimed);
    claimRows(file, 'timeouts', Uint8Array.of(0, 1), 1, claimed);
  });
  // Budget high enough that the claims check, not the budget, has to catch it.
  await assertRefused(inspectDataset(path, { memoryBudgetBytes: 2 ** 40 }), path, /cannot hold .* unwritten \(fill-value\) chunks/);
});

test('compressed claims beyond what deflate can reach are refused too', async () => {
  const path = join(tempDir(), 'deflated.hdf5');
  await writeHdf5(path, (file) => {
    claimRows(file, 'observations', new Float32Array(4096 * 4), 4, 50_000_000, true);
    claimRows(file, 'actions', new Float32Array(4096 * 2), 2, 50_000_000, true);
    claimRows(file, 'rewards', new Float32Array(4096), 1, 50_000_000, true);
    claimRows(file, 'terminals', new Uint8Array(4096), 1, 50_000_000, true);
  });
  await assertRefused(inspectDataset(path, { memoryBudgetBytes: 2 ** 40 }), path, /\[observations\]: declares 50000000 x 4 values, but the file .* cannot hold/);
});

test('legitimate highly compressible files pass the claims check (all-zero float and flag columns, gzip)', async () => {
  const path = join(tempDir(), 'zeros.hdf5');
  const arrays = syntheticArrays([100_000], { obsDim: 4 });
  arrays.observations.fill(0);
  arrays.actions.fill(0);
  arrays.rewards.fill(0);
  await saveDataset(path, arrays);
  const loaded = await inspectDataset(path);
  assert.equal(loaded.store.transitionCount, 100_000);
});

test('a length mismatch is known before the read: the long key is read only up to the shortest', async () => {
  const path = join(tempDir(), 'mismatch.hdf5');
  const arrays = await writeLengthMismatchBomb(path);
  const loaded = await inspectDataset(path);
  assert.equal(loaded.arrays.observations.length, 6 * 3);
  assert.deepEqual(loaded.arrays.observations, arrays.observations);
  const mismatch = loaded.findings.find((item) => item.code === 'length-mismatch');
  assert.equal(mismatch?.key, 'observations');
  assert.equal(mismatch?.severity, 'error');
});

test('a Minari episode claiming 100M unwritten rows is refused, not read as zeros', async () => {
  const dir = join(tempDir(), 'unwritten');
  const hdf5 = await writeMinariFolder(dir, (file) => {
    minariEpisode(file, 'episode_0', 5);
    minariEpisode(file, 'episode_1', 5, 100_000_000);
  });
  await assertRefused(inspectDataset(dir, { memoryBudgetBytes: 2 ** 40 }), hdf5, /episode_1\/.*unwritten \(fill-value\) chunks/);
});

test('the memory budget covers the whole Minari dataset, not each array', async () => {
  const dir = join(tempDir(), 'many');
  const hdf5 = await writeMinariFolder(dir, (file) => {
    for (let e = 0; e < 12; e++) minariEpisode(file, `episode_${e}`, 2000);
  });
  // Each episode (~40 KB) is far below the budget; all twelve together (~480 KB) are not.
  await assertRefused(inspectDataset(dir, { memoryBudgetBytes: 200_000 }), hdf5, /reading 12 episodes \(24000 steps\) would take .* more than the budget of 195\.3 KiB/);
  const loaded = await inspectDataset(dir, { memoryBudgetBytes: 2_000_000 });
  assert.equal(loaded.store.episodeCount, 12);
});

test('the D4RL budget is checked over every key before reading', async () => {
  const path = join(tempDir(), 'budget.hdf5');
  await saveDataset(path, syntheticArrays([500, 500], { obsDim: 20 }));
  await assertRefused(inspectDataset(path, { memoryBudgetBytes: 50_000 }), path, /reading 1000 rows would take 9[0-9.]+ KiB in memory, more than the budget/);
});

test('episode_0 and episode_00 are refused as ambiguous; other top-level keys are reported', async () => {
  const dir = join(tempDir(), 'ambiguous');
  const hdf5 = await writeMinariFolder(dir, (file) => {
    minariEpisode(file, 'episode_0', 3);
    minariEpisode(file, 'episode_00', 3);
  });
  await assertRefused(inspectDataset(dir), hdf5, /episode_0 and episode_00 both name episode 0/);
  const extra = join(tempDir(), 'extra');
  await writeMinariFolder(extra, (file) => {
    minariEpisode(file, 'episode_0', 3);
    minariEpisode(file, 'episode_x', 3);
  });
  const loaded = await inspectDataset(extra);
  assert.equal(loaded.findings.find((item) => item.code === 'info-dropped')?.key, 'episode_x');
});

test('zero-dimensional observations are refused in every format', async () => {
  const dir = tempDir();
  const d4rl = join(dir, 'zero.hdf5');
  await writeZeroDimensionalD4rl(d4rl);
  await assertRefused(inspectDataset(d4rl), d4rl, /\[observations\]: has shape \[4, 0\]: zero values per row/);
  const minari = join(dir, 'zero-minari');
  const hdf5 = await writeMinariFolder(minari, (file) => {
    const episode = file.create_group('episode_0');
    episode.create_group('observations');
    claimRows(episode, 'actions', new Float32Array(2), 1, 2);
    claimRows(episode, 'rewards', new Float32Array(2), 1, 2);
    claimRows(episode, 'terminations', Uint8Array.of(0, 1), 1, 2);
    claimRows(episode, 'truncations', new Uint8Array(2), 1, 2);
  });
  await assertRefused(inspectDataset(minari), hdf5, /observations have no values per step/);
  const jsonl = join(dir, 'zero.jsonl');
  writeFileSync(jsonl, '{"observation":[],"action":[1],"reward":0,"terminated":true}\n');
  await assertRefused(inspectDataset(jsonl), jsonl, /observations have no values per row/);
});

test('CSV numbers are decimal: 0x10, 0b1, 1_000 and empty cells are refused; quoted numbers are read', async () => {
  const dir = tempDir();
  for (const [i, cell] of ['0x10', '0b1', '0o7', '1_000', '', ' '].entries()) {
    const path = join(dir, `bad-${i}.csv`);
    writeFileSync(path, `obs_0,action_0,reward,terminated\n${cell},0,1,1\n`);
    await assertRefused(readCsv(path), path, /\[obs_0\]: line 2: not a number/);
  }
  const quoted = join(dir, 'quoted.csv');
  writeFileSync(quoted, '\ufeff"obs_0","action_0",reward,terminated\r\n"1.5", "-2e-1" ,"3",1\r\n"+.5",7.,0,"1"\r\n');
  const { arrays, findings } = await readCsv(quoted);
  assert.deepEqual(Array.from(arrays.observations), [1.5, 0.5]);
  assert.deepEqual(Array.from(arrays.actions), [Math.fround(-0.2), 7]);
  assert.deepEqual(Array.from(arrays.rewards), [3, 0]);
  assert.deepEqual(findings, []);
});

test('unknown CSV columns and JSONL keys are reported as findings, not ignored', async () => {
  const dir = tempDir();
  const csv = join(dir, 'extra.csv');
  writeFileSync(csv, 'obs_0,action_0,reward,terminated,truncate,timestamp\n1,0,1,0,1,5\n2,0,1,1,0,6\n');
  const { findings } = await readCsv(csv);
  assert.equal(findings.length, 1);
  assert.equal(findings[0]?.code, 'info-dropped');
  assert.equal(findings[0]?.severity, 'warning');
  assert.match(findings[0]?.message ?? '', /2 columns are not read: "truncate", "timestamp"/);
  const jsonl = join(dir, 'extra.jsonl');
  writeFileSync(jsonl, '{"observation":[1],"action":[0],"reward":1,"done":true}\n{"observation":[1],"action":[0],"reward":1,"terminated":true}\n');
  const read = await readJsonl(jsonl);
  assert.equal(read.findings[0]?.key, 'done');
  const strict = stitch('check', csv, '--strict');
  assert.equal(strict.status, 1);
});

test('a CSV header with 10^6 columns fails fast with one line', async () => {
  const path = join(tempDir(), 'wide.csv');
  const header = Array.from({ length: 1_000_000 }, (_, i) => `obs_${i}`).join(',');
  writeFileSync(path, `${header},action_0,reward,terminated\n`);
  await assertRefused(readCsv(path), path, /\[header\]: line 1 has more than 65536 fields/);
  const wideRow = join(tempDir(), 'wide-row.csv');
  writeFileSync(wideRow, `obs_0,action_0,reward,terminated\n1,0,1,1\n${'0,'.repeat(1_000_000)}0\n`);
  await assertRefused(readCsv(wideRow), wideRow, /: line 3 has more than 65536 fields/);
});

test('a 300 MB line and a 600 MB file (sparse) give exit 2 with one line, not a V8 crash or "does it exist?"', async () => {
  const dir = tempDir();
  const jsonl = join(dir, 'long-line.jsonl');
  writeFileSync(jsonl, '{"observation":[1],"action":[0],"reward":1,"terminated":true}\n{"observation":[');
  truncateSync(jsonl, 300 << 20);
  await assertRefused(readJsonl(jsonl), jsonl, /line 2 is longer than 16\.0 MiB/);
  const csv = join(dir, 'large.csv');
  writeFileSync(csv, 'obs_0,action_0,reward,terminated\n1,0,1,1\n');
  truncateSync(csv, 600 << 20);
  await assertRefused(readCsv(csv), csv, /line 3 is longer than 16\.0 MiB/);
});

test('FIFOs and device symlinks are refused in every reader, before any byte is read', async () => {
  const dir = tempDir();
  const fifos: string[] = [];
  for (const name of ['pipe.csv', 'pipe.jsonl', 'pipe.hdf5']) {
    const path = join(dir, name);
    if (spawnSync('mkfifo', [path]).status === 0) fifos.push(path);
  }
  assert.equal(fifos.length, 3, 'mkfifo is needed for this test');
  for (const path of fifos) await assertRefused(inspectDataset(path), path, /a FIFO \(named pipe\), not a regular file/);
  for (const name of ['random.csv', 'random.jsonl', 'zero.hdf5']) {
    const path = join(dir, name);
    symlinkSync(name.startsWith('zero') ? '/dev/zero' : '/dev/urandom', path);
    await assertRefused(inspectDataset(path), path, /a character device, not a regular file/);
  }
  // Minari: the metadata file too.
  const minari = join(dir, 'minari');
  await writeMinariFolder(minari, (file) => minariEpisode(file, 'episode_0', 3));
  const metadata = join(minari, 'data', 'metadata.json');
  spawnSync('rm', [metadata]);
  symlinkSync('/dev/zero', metadata);
  await assertRefused(inspectDataset(minari), metadata, /character device/);
});

test('a 40 MB metadata.json is refused without reading it', async () => {
  const dir = join(tempDir(), 'big-metadata');
  await writeMinariFolder(dir, (file) => minariEpisode(file, 'episode_0', 3));
  const metadata = join(dir, 'data', 'metadata.json');
  truncateSync(metadata, 40 << 20);
  await assertRefused(inspectDataset(dir), metadata, /is 40\.0 MiB; Minari metadata is a few KiB/);
});

test('NaN action bounds are refused (Minari action_space and D4RL attributes); infinite bounds mean unbounded', async () => {
  const dir = tempDir();
  const space = actionSpaceMetadata;
  const nan = join(dir, 'nan');
  await writeMinariFolder(nan, (file) => minariEpisode(file, 'episode_0', 3), space('-1', 'NaN'));
  await assertRefused(inspectDataset(nan), join(nan, 'data', 'metadata.json'), /\[action_space\]: action bound of dimension 0 is NaN/);
  const open = join(dir, 'open');
  await writeMinariFolder(open, (file) => minariEpisode(file, 'episode_0', 3), space('-Infinity', '1'));
  const loaded = await inspectDataset(open);
  assert.deepEqual(Array.from(loaded.actionBounds?.high ?? []), [1]);
  const d4rl = join(dir, 'nan.hdf5');
  const arrays = syntheticArrays([3]);
  arrays.attributes = { action_low: -1, action_high: Number.NaN };
  await saveDataset(d4rl, arrays);
  await assertRefused(inspectDataset(d4rl), d4rl, /action bound of dimension 0 is NaN/);
  await assertRefused(inspectDataset(join(dir, 'open', 'data', 'main_data.hdf5'), { actionBounds: { low: Float32Array.of(Number.NaN), high: Float32Array.of(1) } }), join(dir, 'open', 'data', 'main_data.hdf5'), /NaN/);
});

test('the memory budget reads the cgroup limit (v2 and v1) and ignores "max" and the v1 no-limit value', () => {
  const root = tempDir();
  const write = (path: string, text: string): void => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  assert.equal(cgroupMemoryLimit(root), undefined);
  write('proc/self/cgroup', '0::/user.slice/job\n');
  write('sys/fs/cgroup/user.slice/job/memory.max', 'max\n');
  assert.equal(cgroupMemoryLimit(root), undefined);
  write('sys/fs/cgroup/user.slice/job/memory.max', '2147483648\n');
  assert.equal(cgroupMemoryLimit(root), 2 ** 31);
  write('proc/self/cgroup', '4:memory:/box\n0::/\n');
  write('sys/fs/cgroup/memory/box/memory.limit_in_bytes', '9223372036854771712\n');
  assert.equal(cgroupMemoryLimit(root), undefined);
  write('sys/fs/cgroup/memory/memory.limit_in_bytes', '1073741824\n');
  assert.equal(cgroupMemoryLimit(root), 2 ** 30);
});

test("Stitch's own Maze2D dataset passes data check --strict; the same findings stay warnings elsewhere", async () => {
  const dir = tempDir();
  const path = join(dir, 'umaze.hdf5');
  const make = spawnSync(process.execPath, ['dist/src/cli/main.js', 'data', 'make', 'maze2d-umaze', '--out', path, '--steps', '3000', '--seed', '0'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(make.status, 0, make.stderr);
  const loaded = await loadDataset(path, { strict: true });
  const codes = loaded.findings.map((item) => `${item.code}:${item.severity}`);
  assert.ok(codes.includes('one-step-episode:info'), codes.join(', '));
  assert.ok(codes.includes('trailing-transitions:info'), codes.join(', '));
  assert.equal(stitch('check', path, '--strict').status, 0);
  // Without the recipe in its attributes, the same layout is still a warning.
  const plain = join(dir, 'plain.hdf5');
  const arrays = syntheticArrays([1, 5], { trailing: 2 });
  await saveDataset(plain, arrays);
  const codesPlain = (await inspectDataset(plain)).findings.map((item) => `${item.code}:${item.severity}`);
  assert.deepEqual(codesPlain.sort(), ['one-step-episode:warning', 'trailing-transitions:warning']);
});

test('every hostile data file through the CLI: exit 2 (1 for the length mismatch) with one line, no stack trace', async () => {
  const cases = await buildHostileDataFiles(join(tempDir(), 'hostile'));
  assert.ok(cases.length >= 20);
  for (const { label, path, status } of cases) {
    const result = stitch('check', path);
    assert.equal(result.status, status, `${label}: ${result.stderr}`);
    if (status === 2) {
      assert.equal(result.stderr.trim().split('\n').length, 1, `${label}: ${result.stderr}`);
      assert.ok(result.stderr.includes(path), `${label}: ${result.stderr}`);
    } else {
      assert.match(result.stdout, /length-mismatch/, label);
    }
    assert.doesNotMatch(result.stderr, /\n\s+at |does it exist/, label);
  }
});
