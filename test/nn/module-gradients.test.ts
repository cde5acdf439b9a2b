/** Every nn module's parameter and input gradients against finite differences (float64). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng, type Tensor } from '../../src/engine/index.js';
import { Embedding, LayerNorm, Linear, Mlp } from '../../src/nn/layers.js';
import { Block, SelfAttention, type BlockConfig } from '../../src/nn/transformer.js';
import { checkModuleGradients } from '../helpers/gradcheck.js';

const first = (xs: Tensor[]): Tensor => xs[0] as Tensor;
// the first window has a padded first timestep: its key never attends, its query sees nothing
const keyMask = Float32Array.from([0, 1, 1, 1, 1, 1, 1, 1]);

function blockConfig(style: BlockConfig['style'], fusedQkv: boolean): BlockConfig {
  return {
    width: 6, heads: 2, probDropout: 0.1, outputDropout: fusedQkv ? 0 : 0.1, residDropout: 0.1, fusedQkv,
    init: 'gpt2', style, mlpWidth: 12, activation: fusedQkv ? 'gelu_tanh' : 'gelu_erf', mlpDropout: 0.1,
  };
}

/** every parameter and input was compared: a module with no parameters reaching the check would pass vacuously */
function assertChecked(count: number): void {
  assert.ok(count > 0, 'no gradient element was checked');
}

describe('module gradients (float64 finite differences)', () => {
  it('Linear', () => assertChecked(checkModuleGradients(() => new Linear(4, 3, new Rng(1)), (m, x) => m.forward(first(x)), [{ shape: [2, 5, 4] }])));
  it('Linear without bias', () => assertChecked(checkModuleGradients(() => new Linear(4, 3, new Rng(1), { bias: false }), (m, x) => m.forward(first(x)), [{ shape: [5, 4] }])));
  it('Embedding', () => assertChecked(checkModuleGradients(() => new Embedding(6, 3, new Rng(1)), (m) => m.forward(Int32Array.from([5, 0, 5, 2]), [2, 2]), [])));
  it('LayerNorm', () => assertChecked(checkModuleGradients(() => new LayerNorm(5), (m, x) => m.forward(first(x)), [{ shape: [3, 5] }])));
  it('Mlp (GELU tanh)', () => assertChecked(checkModuleGradients(() => new Mlp(4, 8, 'gelu_tanh', 0.1, new Rng(1), 'torch'), (m, x) => m.forward(first(x)), [{ shape: [3, 4] }])));
  it('SelfAttention, fused qkv (GPT-2)', () => assertChecked(checkModuleGradients(() => new SelfAttention(blockConfig('pre-ln', true), new Rng(1)), (m, x) => m.forward(first(x), keyMask), [{ shape: [2, 4, 6] }])));
  it('SelfAttention, separate q/k/v (Reinformer)', () => assertChecked(checkModuleGradients(() => new SelfAttention(blockConfig('post-ln', false), new Rng(1)), (m, x) => m.forward(first(x), null), [{ shape: [2, 4, 6] }])));
  it('pre-LN block', () => assertChecked(checkModuleGradients(() => new Block(blockConfig('pre-ln', true), new Rng(2)), (m, x) => m.forward(first(x), keyMask), [{ shape: [2, 4, 6] }])));
  it('post-LN block', () => assertChecked(checkModuleGradients(() => new Block(blockConfig('post-ln', false), new Rng(2)), (m, x) => m.forward(first(x), null), [{ shape: [2, 4, 6] }])));
});
