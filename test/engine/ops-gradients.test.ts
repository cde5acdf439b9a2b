/**
 * Every op: reverse-mode gradients against central finite differences (float64, reference
 * kernels), then float32 on the active backend against the float64 values and gradients.
 */
import { describe, it } from 'node:test';
import {
  abs, add, addScalar, attention, clip, concat, describeBackend, div, dropout, embedding, exp,
  expectileLoss, gaussianEntropy, gaussianLogProb, layerNorm, linear, log, matmul, maximum, mean,
  minimum, mseLoss, mul, neg, reshape, scale, select, slice, sqrt, square, stack, sub, sum,
  activation, type Activation, type Tensor,
} from '../../src/engine/index.js';
import { checkBackendAgrees, checkGradients, type Build, type InputSpec } from '../helpers/gradcheck.js';

const positive = { init: (rng: { uniform(): number }) => 0.5 + rng.uniform() * 2 };
// keeps values away from kinks (relu at 0, clip bounds, |x| at 0) where differences are not derivatives
const awayFromZero = { init: (rng: { uniform(): number }) => (rng.uniform() < 0.5 ? -1 : 1) * (0.2 + rng.uniform()) };

function both(name: string, build: Build, specs: InputSpec[], tolerance?: { fd?: number; f32?: number }): void {
  it(`${name}: gradients match finite differences (float64)`, () => checkGradients(build, specs, tolerance?.fd === undefined ? {} : { tolerance: tolerance.fd }));
  it(`${name}: float32 on ${describeBackend().split(',')[0]} matches float64`, () =>
    checkBackendAgrees(build, specs, tolerance?.f32 === undefined ? {} : { tolerance: tolerance.f32 }));
}

const first = (xs: Tensor[]): Tensor => xs[0] as Tensor;
const second = (xs: Tensor[]): Tensor => xs[1] as Tensor;
const third = (xs: Tensor[]): Tensor => xs[2] as Tensor;

describe('elementwise with broadcasting', () => {
  both('add same shape', (x) => add(first(x), second(x)), [{ shape: [3, 4] }, { shape: [3, 4] }]);
  both('add broadcast row', (x) => add(first(x), second(x)), [{ shape: [2, 3, 4] }, { shape: [4] }]);
  both('add broadcast both', (x) => add(first(x), second(x)), [{ shape: [3, 1] }, { shape: [1, 5] }]);
  both('sub', (x) => sub(first(x), second(x)), [{ shape: [2, 1, 3] }, { shape: [4, 3] }]);
  both('mul', (x) => mul(first(x), second(x)), [{ shape: [2, 3] }, { shape: [2, 1] }]);
  both('div', (x) => div(first(x), second(x)), [{ shape: [3, 2] }, { shape: [2], ...positive }]);
  both('minimum', (x) => minimum(first(x), second(x)), [{ shape: [5, 2] }, { shape: [5, 2] }]);
  both('maximum', (x) => maximum(first(x), second(x)), [{ shape: [5, 2] }, { shape: [1, 2] }]);
});

describe('unary', () => {
  both('neg', (x) => neg(first(x)), [{ shape: [7] }]);
  both('exp', (x) => exp(first(x)), [{ shape: [2, 3] }]);
  both('log', (x) => log(first(x)), [{ shape: [6], ...positive }]);
  both('sqrt', (x) => sqrt(first(x)), [{ shape: [6], ...positive }]);
  both('square', (x) => square(first(x)), [{ shape: [6] }]);
  both('abs', (x) => abs(first(x)), [{ shape: [6], ...awayFromZero }]);
  both('scale', (x) => scale(first(x), -2.5), [{ shape: [2, 2] }]);
  both('addScalar', (x) => addScalar(first(x), 3), [{ shape: [3] }]);
  both('clip', (x) => clip(first(x), -0.5, 0.7), [{ shape: [12], init: (rng) => { const v = rng.uniform() * 3 - 1.5; return Math.abs(v + 0.5) < 0.05 || Math.abs(v - 0.7) < 0.05 ? v + 0.2 : v; } }]);
  for (const kind of ['relu', 'tanh', 'gelu_tanh', 'gelu_erf', 'mish'] as Activation[]) {
    both(`activation ${kind}`, (x) => activation(first(x), kind), [{ shape: [4, 5], ...(kind === 'relu' ? awayFromZero : { init: (rng) => rng.normal() * 2 }) }]);
  }
});

describe('reductions', () => {
  both('sum all', (x) => sum(first(x)), [{ shape: [3, 4] }]);
  both('sum axis keepDims', (x) => sum(first(x), 1, true), [{ shape: [2, 3, 4] }]);
  both('sum two axes', (x) => sum(first(x), [0, 2]), [{ shape: [2, 3, 4] }]);
  both('mean negative axis', (x) => mean(first(x), -1), [{ shape: [3, 5] }]);
});

describe('linear algebra', () => {
  both('linear with bias, rank-3 input', (x) => linear(first(x), second(x), third(x)), [{ shape: [2, 3, 5] }, { shape: [4, 5] }, { shape: [4] }]);
  both('linear without bias', (x) => linear(first(x), second(x), null), [{ shape: [6, 3] }, { shape: [2, 3] }]);
  for (const kind of ['tanh', 'gelu_tanh', 'gelu_erf', 'mish'] as Activation[]) {
    both(`linear with bias and ${kind}`, (x) => linear(first(x), second(x), third(x), kind), [{ shape: [2, 3, 5] }, { shape: [4, 5] }, { shape: [4] }]);
  }
  both('linear without bias, with gelu_tanh', (x) => linear(first(x), second(x), null, 'gelu_tanh'), [{ shape: [6, 3] }, { shape: [2, 3] }]);
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      const a = transA ? [4, 3] : [3, 4];
      const b = transB ? [5, 4] : [4, 5];
      both(`matmul transA=${transA} transB=${transB}`, (x) => matmul(first(x), second(x), { transA, transB }), [{ shape: a }, { shape: b }]);
      both(`batched matmul transA=${transA} transB=${transB}`, (x) => matmul(first(x), second(x), { transA, transB }), [{ shape: [2, ...a] }, { shape: [2, ...b] }]);
    }
  }
});

describe('shapes and embeddings', () => {
  both('reshape', (x) => mul(reshape(first(x), [3, -1]), second(x)), [{ shape: [2, 6] }, { shape: [3, 4] }]);
  both('slice middle axis', (x) => slice(first(x), 1, 1, 3), [{ shape: [2, 4, 3] }]);
  both('concat last axis', (x) => concat([first(x), second(x)], -1), [{ shape: [2, 3] }, { shape: [2, 2] }]);
  both('stack then select (token interleave)', (x) => select(stack([first(x), second(x), third(x)], 2), 2, 1), [{ shape: [2, 3, 4] }, { shape: [2, 3, 4] }, { shape: [2, 3, 4] }]);
  both('interleave used twice', (x) => { const s = stack([first(x), second(x)], 1); return mul(s, s); }, [{ shape: [3, 2] }, { shape: [3, 2] }]);
  both('embedding with repeated indices', (x) => embedding(first(x), Int32Array.from([0, 3, 3, 1, 0, 2]), [2, 3]), [{ shape: [4, 5] }]);
});

describe('normalization, attention, dropout', () => {
  both('layerNorm', (x) => layerNorm(first(x), second(x), third(x)), [{ shape: [2, 3, 8] }, { shape: [8] }, { shape: [8] }]);
  both('attention causal, one head', (x) => attention(first(x), { heads: 1, causal: true }), [{ shape: [2, 5, 3 * 4] }]);
  both('attention causal, three heads, key mask', (x) => attention(first(x), { heads: 3, causal: true, keyMask: Float32Array.from([0, 0, 1, 1, 1, 1, 1, 1, 1, 0]) }), [{ shape: [2, 5, 3 * 6] }]);
  both('attention bidirectional with dropout', (x) => attention(first(x), { heads: 2, causal: false, dropout: 0.3, seed: 1234 }), [{ shape: [2, 4, 3 * 4] }]);
  both('dropout', (x) => dropout(first(x), 0.25, 99), [{ shape: [5, 7] }]);
});

describe('losses', () => {
  both('mseLoss with row weights', (x) => mseLoss(first(x), second(x), { weights: Float64Array.from([1, 0, 2, 1]) }), [{ shape: [4, 3] }, { shape: [4, 3] }]);
  both('gaussianLogProb with state-independent std', (x) => gaussianLogProb(first(x), second(x), third(x)), [{ shape: [3, 2] }, { shape: [3, 2] }, { shape: [2] }]);
  both('gaussianEntropy', (x) => gaussianEntropy(first(x)), [{ shape: [4] }]);
  both('expectileLoss', (x) => expectileLoss(first(x), second(x), 0.9, Float64Array.from([1, 1, 0, 1, 1]), 1.7), [{ shape: [5, 1] }, { shape: [5, 1], requiresGrad: false }]);
});
