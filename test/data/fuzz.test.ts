import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Rng } from '../../src/engine/rng.js';
import { DataFileError } from '../../src/data/errors.js';
import { inspectDataset } from '../../src/data/load.js';
import { FIXTURES, tempDir } from './helpers.js';

/** A damaged file must either read (damage in data bytes can be harmless) or fail with a one-line DataFileError. */
async function assertReadsOrFailsCleanly(path: string, label: string): Promise<void> {
  try {
    await inspectDataset(path);
  } catch (error) {
    assert.ok(error instanceof DataFileError, `${label}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    assert.ok(!error.message.includes('\n'), `${label}: multi-line message`);
    assert.ok(error.message.startsWith(path), `${label}: message does not name the file`);
  }
}

test('truncated copies of a real HDF5 file fail cleanly', async () => {
  const original = readFileSync(join(FIXTURES, 'maze2d-tiny.hdf5'));
  const dir = tempDir();
  const rng = new Rng(2024);
  const cuts = [0, 4, 8, 100, 511, 2048, original.length - 1, ...Array.from({ length: 13 }, () => rng.int(original.length))];
  for (const [i, cut] of cuts.entries()) {
    const path = join(dir, `cut-${i}.hdf5`);
    writeFileSync(path, original.subarray(0, cut));
    await assertReadsOrFailsCleanly(path, `truncated at ${cut}`);
  }
});

test('copies with flipped bytes fail cleanly or read', async () => {
  for (const fixture of ['maze2d-tiny.hdf5', 'minari-tiny/data/main_data.hdf5']) {
    const original = readFileSync(join(FIXTURES, fixture));
    const dir = tempDir();
    const rng = new Rng(7);
    for (let i = 0; i < 25; i++) {
      const damaged = Buffer.from(original);
      // Half the cases hit the first 4 KiB, where the superblock and object headers live.
      const span = i % 2 === 0 ? Math.min(4096, damaged.length) : damaged.length;
      const flips = 1 + rng.int(8);
      for (let f = 0; f < flips; f++) damaged[rng.int(span)] ^= 1 << rng.int(8);
      const path = fixture.startsWith('minari') ? join(dir, `flip-${i}.h5`, 'main_data.hdf5') : join(dir, `flip-${i}.hdf5`);
      if (fixture.startsWith('minari')) {
        const { mkdirSync, copyFileSync } = await import('node:fs');
        mkdirSync(join(dir, `flip-${i}.h5`));
        copyFileSync(join(FIXTURES, 'minari-tiny/data/metadata.json'), join(dir, `flip-${i}.h5`, 'metadata.json'));
      }
      writeFileSync(path, damaged);
      await assertReadsOrFailsCleanly(path, `${fixture} flip case ${i}`);
    }
  }
});

test('non-HDF5 and empty inputs give one-line errors', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'text.hdf5'), 'observations,actions\n1,2\n');
  writeFileSync(join(dir, 'empty.hdf5'), '');
  await assert.rejects(inspectDataset(join(dir, 'text.hdf5')), /text\.hdf5: not an HDF5 file \(no HDF5 signature\)/);
  await assert.rejects(inspectDataset(join(dir, 'empty.hdf5')), /empty\.hdf5: not an HDF5 file/);
  await assert.rejects(inspectDataset(join(dir, 'absent.hdf5')), /absent\.hdf5: no such file/);
  await assert.rejects(inspectDataset(join(dir, 'data.bin')), /cannot tell the format/);
});
