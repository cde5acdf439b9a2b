import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Rng } from '../../src/engine/index.js';
import { loadModule, loadOptimizer, saveModule, saveOptimizer } from '../../src/nn/checkpoint.js';
import { AdamW } from '../../src/nn/optim.js';
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from '../../src/nn/safetensors.js';
import { gradientStep } from '../../src/nn/step.js';
import { newDt, randomBatch, smallDtConfig } from '../helpers/dt.js';
import { dtLoss } from '../../src/algos/dt.js';

const dir = mkdtempSync(join(tmpdir(), 'stitch-ckpt-'));

describe('safetensors', () => {
  it('round-trips tensors and metadata, with an 8-byte aligned data section', () => {
    const tensors = new Map([
      ['b', { dtype: 'F32' as const, shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) }],
      ['a', { dtype: 'I32' as const, shape: [3], data: Int32Array.from([-1, 0, 7]) }],
      ['c', { dtype: 'F64' as const, shape: [], data: Float64Array.from([Math.PI]) }],
    ]);
    const bytes = encodeSafetensors(tensors, { format: 'pt' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal((8 + headerLength) % 8, 0);
    const decoded = decodeSafetensors(bytes);
    assert.deepEqual(decoded.metadata, { format: 'pt' });
    assert.deepEqual(Array.from(decoded.tensors.get('b')?.data ?? []), [1, 2, 3, 4]);
    assert.deepEqual(Array.from(decoded.tensors.get('a')?.data ?? []), [-1, 0, 7]);
    assert.equal(decoded.tensors.get('c')?.data[0], Math.PI);
    assert.deepEqual(decoded.tensors.get('c')?.shape, []);
  });

  it('rejects hostile or damaged files with a clear message', () => {
    const good = encodeSafetensors(new Map([['w', { dtype: 'F32' as const, shape: [4], data: new Float32Array(4) }]]));
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['empty', new Uint8Array(0), /too short/],
      ['truncated data', good.subarray(0, good.length - 3), /truncated|spans bytes/],
      ['huge header length', (() => { const b = Uint8Array.from(good); new DataView(b.buffer).setBigUint64(0, 1n << 60n, true); return b; })(), /header length/],
      ['bad JSON', (() => { const b = Uint8Array.from(good); b[9] = 0x7b; b[10] = 0x7b; return b; })(), /not valid JSON/],
    ];
    for (const [name, bytes, pattern] of cases) {
      assert.throws(() => decodeSafetensors(bytes, name), (e: unknown) => e instanceof SafetensorsError && pattern.test(e.message), name);
    }
    const header = (h: object): Uint8Array => {
      const json = Buffer.from(JSON.stringify(h));
      const out = new Uint8Array(8 + json.length + 16);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      return out;
    };
    assert.throws(() => decodeSafetensors(header({ w: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } })), /dtype/);
    assert.throws(() => decodeSafetensors(header({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } })), /invalid shape/);
    assert.throws(() => decodeSafetensors(header({ w: { dtype: 'F32', shape: [1e12], data_offsets: [0, 4] } })), /needs/);
    assert.throws(() => decodeSafetensors(header({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } })), /overlap/);
  });
});

describe('checkpoints', () => {
  it('a saved and reloaded model and optimizer continue exactly like the original', () => {
    const config = smallDtConfig();
    const batches = Array.from({ length: 6 }, (_, i) => randomBatch(config, 3, new Rng(100 + i)));
    const original = newDt(config, 5);
    const optimizer = new AdamW(original.model.parameters(), { lr: 1e-3, weightDecay: 1e-4 });
    const names = original.model.namedParameters().map(([n]) => n);
    const train = (m: typeof original, o: AdamW, from: number, to: number): number[] =>
      batches.slice(from, to).map((b) => gradientStep({ optimizer: o, clipNorm: 0.25, loss: () => dtLoss(m.model, b).loss }).loss.now);
    train(original, optimizer, 0, 3);
    saveModule(original.model, join(dir, 'model.safetensors'), { note: 'test' });
    saveOptimizer(optimizer, names, join(dir, 'optimizer.safetensors'));
    const rngState = original.rng.state();
    const expected = train(original, optimizer, 3, 6);

    const restored = newDt(config, 999);
    const restoredOptimizer = new AdamW(restored.model.parameters(), { lr: 1e-3, weightDecay: 1e-4 });
    assert.deepEqual(loadModule(restored.model, join(dir, 'model.safetensors')), { note: 'test' });
    loadOptimizer(restoredOptimizer, names, join(dir, 'optimizer.safetensors'));
    restored.rng.restore(rngState);
    assert.deepEqual(train(restored, restoredOptimizer, 3, 6), expected);
  });

  it('refuses a checkpoint of another architecture, naming the parameter', () => {
    const { model } = newDt(smallDtConfig({ width: 16 }), 1);
    const path = join(dir, 'wide.safetensors');
    saveModule(model, path);
    const other = newDt(smallDtConfig({ width: 8, heads: 2 }), 1).model;
    assert.throws(() => loadModule(other, path), /transformer\.embed_timestep\.weight has shape \[20,16\], the model expects \[20,8\]/);
    writeFileSync(join(dir, 'cut.safetensors'), readFileSync(path).subarray(0, 100));
    assert.throws(() => loadModule(other, join(dir, 'cut.safetensors')), /cut\.safetensors/);
  });
});

