import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { bufferPool, Rng, tidy } from '../../src/engine/index.js';
import { AdamW, linearWarmup } from '../../src/nn/optim.js';
import { gradientStep } from '../../src/nn/step.js';
import { newDt, randomBatch, smallDtConfig } from '../helpers/dt.js';
import { dtLoss } from '../../src/algos/dt.js';
import { hostArray } from '../../src/engine/tensor.js';

describe('Decision Transformer model', () => {
  it('names its parameters as the PyTorch reference does', () => {
    const { model } = newDt(smallDtConfig({ layers: 1 }), 1);
    const names = model.namedParameters().map(([n]) => n);
    assert.deepEqual(names, [
      'transformer.embed_timestep.weight',
      'transformer.embed_return.weight', 'transformer.embed_return.bias',
      'transformer.embed_state.weight', 'transformer.embed_state.bias',
      'transformer.embed_action.weight', 'transformer.embed_action.bias',
      'transformer.embed_ln.weight', 'transformer.embed_ln.bias',
      'transformer.blocks.0.ln_1.weight', 'transformer.blocks.0.ln_1.bias',
      'transformer.blocks.0.attn.c_attn.weight', 'transformer.blocks.0.attn.c_attn.bias',
      'transformer.blocks.0.attn.c_proj.weight', 'transformer.blocks.0.attn.c_proj.bias',
      'transformer.blocks.0.ln_2.weight', 'transformer.blocks.0.ln_2.bias',
      'transformer.blocks.0.mlp.c_fc.weight', 'transformer.blocks.0.mlp.c_fc.bias',
      'transformer.blocks.0.mlp.c_proj.weight', 'transformer.blocks.0.mlp.c_proj.bias',
      'transformer.ln_f.weight', 'transformer.ln_f.bias',
      'predict_action.weight', 'predict_action.bias',
    ]);
  });

  it('whole-model gradient agrees with a directional finite difference (dropout on, padding)', () => {
    const config = smallDtConfig({ width: 16, heads: 2, mlpWidth: 32, layers: 2, context: 4 });
    const batch = randomBatch(config, 3, new Rng(4));
    const direction = new Rng(5);
    const base = newDt(config, 3).model;
    const directions = base.parameters().map((p) => Float64Array.from({ length: p.size }, () => direction.normal()));
    // a model rebuilt from the same seed replays the same dropout stream; its weights are base + eps * d
    const lossAt = (eps: number): number => tidy(() => {
      const { model } = newDt(config, 3);
      model.parameters().forEach((p, i) => {
        const d = directions[i] as Float64Array;
        for (let j = 0; j < p.size; j++) p.data[j] = (base.parameters()[i]?.data[j] as number) + eps * (d[j] as number);
      });
      return dtLoss(model, batch).loss.item();
    });
    const { model } = newDt(config, 3);
    tidy(() => dtLoss(model, batch).loss.backward());
    let analytic = 0;
    model.parameters().forEach((p, i) => {
      const g = hostArray(p.gradOrZeros());
      const d = directions[i] as Float64Array;
      for (let j = 0; j < p.size; j++) analytic += (g[j] as number) * (d[j] as number);
    });
    const eps = 1e-3;
    const numeric = (lossAt(eps) - lossAt(-eps)) / (2 * eps);
    assert.ok(Math.abs(analytic - numeric) <= 2e-2 * Math.abs(numeric) + 1e-4, `analytic ${analytic} vs numeric ${numeric}`);
  });

  it('is deterministic: the same seed gives bit-identical losses over 100 steps', () => {
    const config = smallDtConfig();
    const run = (): number[] => {
      const { model, rng } = newDt(config, 11);
      const optimizer = new AdamW(model.parameters(), { lr: 1e-3, weightDecay: 1e-4 });
      const losses: number[] = [];
      for (let step = 0; step < 100; step++) {
        const batch = randomBatch(config, 4, rng);
        losses.push(gradientStep({ optimizer, clipNorm: 0.25, schedule: linearWarmup(10), loss: () => dtLoss(model, batch).loss }).loss.now);
      }
      return losses;
    };
    const first = run();
    assert.deepEqual(run(), first);
    assert.ok((first[99] as number) < (first[0] as number), 'training should reduce the loss');
    const { model, rng } = newDt(config, 12);
    const other = gradientStep({ optimizer: new AdamW(model.parameters(), { lr: 1e-3 }), clipNorm: 0.25, loss: () => dtLoss(model, randomBatch(config, 4, rng)).loss });
    assert.notEqual(other.loss, first[0], 'another seed gives another loss');
  });

  it('keeps memory flat over 10,000 steps (pooled buffers, no growth)', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const config = smallDtConfig({ width: 8, heads: 1, mlpWidth: 16, layers: 1, context: 2, maxTimestep: 8 });
    const { model, rng } = newDt(config, 21);
    const optimizer = new AdamW(model.parameters(), { lr: 1e-3 });
    const batch = randomBatch(config, 2, rng);
    const step = (): void => {
      gradientStep({ optimizer, clipNorm: 0.25, loss: () => dtLoss(model, batch).loss });
    };
    for (let i = 0; i < 200; i++) step();
    gc();
    const pooledAfterWarmup = bufferPool.retained();
    const heapAfterWarmup = process.memoryUsage().heapUsed;
    for (let i = 0; i < 10_000; i++) step();
    gc();
    assert.equal(bufferPool.retained(), pooledAfterWarmup, 'the pool holds the same buffers after 10,000 more steps');
    const growth = process.memoryUsage().heapUsed - heapAfterWarmup;
    assert.ok(growth < 2_000_000, `heap grew by ${growth} bytes over 10,000 steps`);
  });
});
