/**
 * readSafetensors reads the header first (issue 15 item 8): a huge claimed header, a sparse
 * multi-gigabyte file and a FIFO are refused, or read only as far as the tensors reach, before
 * the file is read whole. Files are generated here; the large ones are sparse.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readSafetensors } from '../../src/nn/checkpoint.js';
import { encodeSafetensors, MAX_HEADER_BYTES, SafetensorsError } from '../../src/nn/safetensors.js';

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'stitch-safetensors-'));

test('a header claiming 99 MB is refused from its first 8 bytes', () => {
  const path = join(tempDir(), 'big-header.safetensors');
  const first8 = Buffer.alloc(8);
  first8.writeBigUInt64LE(99_000_000n);
  writeFileSync(path, first8);
  truncateSync(path, 8 + 99_000_000);
  assert.throws(() => readSafetensors(path), (error: unknown) => error instanceof SafetensorsError && /header length 99000000 exceeds .* the 16777216-byte limit/.test(error.message));
  assert.equal(MAX_HEADER_BYTES, 16 << 20);
});

test('a sparse 1.9 GB file with a small header is read only as far as its tensors reach', () => {
  const path = join(tempDir(), 'sparse.safetensors');
  const tensors = new Map([['w', { dtype: 'F32' as const, shape: [3], data: Float32Array.of(1, 2, 3) }]]);
  writeFileSync(path, encodeSafetensors(tensors, { note: 'x' }));
  truncateSync(path, 1_900_000_000);
  const file = readSafetensors(path);
  assert.deepEqual(Array.from(file.tensors.get('w')?.data ?? []), [1, 2, 3]);
  assert.equal(file.metadata.note, 'x');
});

test('a FIFO is refused without blocking, a truncated file names the problem', () => {
  const dir = tempDir();
  const fifo = join(dir, 'policy.safetensors');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  assert.throws(() => readSafetensors(fifo), /not a regular file/);
  const good = encodeSafetensors(new Map([['w', { dtype: 'F32' as const, shape: [4], data: new Float32Array(4) }]]));
  const truncated = join(dir, 'truncated.safetensors');
  writeFileSync(truncated, good.subarray(0, good.length - 3));
  assert.throws(() => readSafetensors(truncated), /spans bytes .* truncated or corrupt/);
});
