import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Parameter } from '../../src/engine/index.js';
import { Adam, AdamW, clipGradNorm, cosineAnnealing, gradNorm, Lamb, linearWarmup } from '../../src/nn/optim.js';
import { hostArray } from '../../src/engine/tensor.js';

function param(values: number[], grad: number[]): Parameter {
  const p = Parameter.create([values.length], 'p', 'float64');
  p.data.set(values);
  hostArray(p.gradOrZeros()).set(grad);
  return p;
}

function close(a: number, b: number, tol = 1e-12): void {
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);
}

describe('AdamW and Adam', () => {
  it('AdamW follows torch.optim.AdamW for two steps (decay before the moment update)', () => {
    const p = param([0.5, -2], [0.1, 0.3]);
    const opt = new AdamW([p], { lr: 0.01, weightDecay: 0.1 });
    opt.step();
    // step 1: p*(1-lr*wd) - lr * m_hat/(sqrt(v_hat)+eps) with m_hat = g, v_hat = g^2
    close(p.data[0] as number, 0.5 * (1 - 0.001) - 0.01 * (0.1 / (0.1 + 1e-8)));
    close(p.data[1] as number, -2 * (1 - 0.001) - 0.01 * (0.3 / (0.3 + 1e-8)));
    const before = p.data[0] as number;
    hostArray(p.gradOrZeros()).set([-0.2, 0.3]);
    opt.step();
    const m = 0.9 * 0.1 * 0.1 + 0.1 * -0.2; // = 0.9*m1 + 0.1*g2 with m1 = 0.1*0.1
    const v = 0.999 * 0.001 * 0.01 + 0.001 * 0.04;
    const expected = before * (1 - 0.001) - 0.01 * (m / (1 - 0.81)) / (Math.sqrt(v) / Math.sqrt(1 - 0.999 ** 2) + 1e-8);
    close(p.data[0] as number, expected);
  });

  it('Adam adds L2 to the gradient instead of decaying the weight', () => {
    const p = param([1], [0]);
    const opt = new Adam([p], { lr: 0.1, weightDecay: 0.5 });
    opt.step();
    // g' = 0 + 0.5 * 1: the step direction is sign(g') at step 1
    close(p.data[0] as number, 1 - 0.1 * (0.5 / (0.5 + 1e-8)));
  });

  it('a parameter that got no gradient is treated as zero gradient', () => {
    const p = Parameter.create([2], 'p', 'float64');
    p.data.set([1, 1]);
    const opt = new AdamW([p], { lr: 0.1, weightDecay: 0.01 });
    opt.zeroGrad();
    opt.step();
    close(p.data[0] as number, 1 - 0.1 * 0.01);
  });
});

describe('LAMB', () => {
  it('scales the Adam direction plus decay by the trust ratio |w|/|u|', () => {
    const p = param([3, 4], [0.5, -0.5]);
    const opt = new Lamb([p], { lr: 0.1, weightDecay: 0.01, maxGradNorm: null });
    opt.step();
    const u = [0.5 / (0.5 + 1e-8) + 0.01 * 3, -0.5 / (0.5 + 1e-8) + 0.01 * 4];
    const ratio = 5 / Math.hypot(u[0] as number, u[1] as number);
    close(p.data[0] as number, 3 - 0.1 * ratio * (u[0] as number), 1e-9);
    close(p.data[1] as number, 4 - 0.1 * ratio * (u[1] as number), 1e-9);
  });

  it('rescales gradients above the global norm limit before the update', () => {
    const p = param([1, 1], [30, 40]);
    const opt = new Lamb([p], { lr: 0.1, maxGradNorm: 1 });
    opt.step();
    close(gradNorm([p]).now, 1, 1e-9);
  });

  it('uses a trust ratio of 1 for an all-zero weight', () => {
    const p = param([0, 0], [1, 1]);
    new Lamb([p], { lr: 0.1, weightDecay: 0, maxGradNorm: null }).step();
    close(p.data[0] as number, -0.1 * (1 / (1 + 1e-8)));
  });
});

describe('clipping and schedules', () => {
  it('clipGradNorm rescales to the limit and returns the norm before clipping', () => {
    const a = param([0], [3]);
    const b = param([0, 0], [0, 4]);
    const norm = clipGradNorm([a, b], 0.25);
    close(norm.now, 5);
    close(gradNorm([a, b]).now, 0.25 * 5 / (5 + 1e-6), 1e-9);
  });

  it('clipGradNorm leaves small gradients alone', () => {
    const a = param([0], [0.1]);
    clipGradNorm([a], 1);
    close(hostArray(a.gradOrZeros())[0] as number, 0.1);
  });

  it('linear warm-up reaches 1 at the last warm-up step and stays', () => {
    const s = linearWarmup(4);
    assert.deepEqual([0, 1, 2, 3, 4, 100].map(s), [0.25, 0.5, 0.75, 1, 1, 1]);
  });

  it('cosine annealing matches CosineAnnealingLR', () => {
    const s = cosineAnnealing(10);
    close(s(0), 1);
    close(s(5), 0.5);
    close(s(10), 0);
    close(s(100 / 1000 * 10), (1 + Math.cos(Math.PI * 0.1)) / 2);
  });
});
