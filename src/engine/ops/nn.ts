/** The transformer's hot ops, each one fused kernel call forward and one backward. */
import type { Activation, AttentionShape, FloatArray, Storage } from '../backend.js';
import { assertSameDType, formatShape, hostInput, record, scratch, Tensor, type GradSink } from '../tensor.js';
import { kernels } from './kernels.js';

export function activation(x: Tensor, kind: Activation): Tensor {
  x.assertLive(kind);
  const out = Tensor.empty(x.shape, x.dtype);
  const k = kernels(x.dtype);
  k.activation(kind, x.storage, out.storage, x.size);
  return record(kind, out, [x], (grad, sink) => {
    sink(x, (buffer, accumulate) => k.activationBackward(kind, x.storage, grad, buffer, x.size, accumulate));
  });
}

export const relu = (x: Tensor): Tensor => activation(x, 'relu');
export const tanh = (x: Tensor): Tensor => activation(x, 'tanh');
export const gelu = (x: Tensor, approximate: 'tanh' | 'none' = 'none'): Tensor => activation(x, approximate === 'tanh' ? 'gelu_tanh' : 'gelu_erf');
export const mish = (x: Tensor): Tensor => activation(x, 'mish');

/** LayerNorm over the last axis with affine parameters gamma, beta [C]. */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
  const dtype = assertSameDType('layerNorm', x, gamma, beta);
  const cols = x.shape[x.rank - 1] as number;
  if (gamma.size !== cols || beta.size !== cols) {
    throw new RangeError(`layerNorm: input ${formatShape(x.shape)} needs gamma and beta of ${cols}, got ${formatShape(gamma.shape)} and ${formatShape(beta.shape)}`);
  }
  const rows = x.size / cols;
  const out = Tensor.empty(x.shape, dtype);
  const mean = scratch(dtype, rows);
  const rstd = scratch(dtype, rows);
  const k = kernels(dtype);
  k.layerNorm(x.storage, gamma.storage, beta.storage, out.storage, mean, rstd, rows, cols, eps);
  return record('layerNorm', out, [x, gamma, beta], (grad, sink) => {
    // one kernel yields all three gradients, and it always accumulates into gamma's and beta's
    const gradGamma = zeroedTarget(gamma, sink) ?? scratch(dtype, cols);
    const gradBeta = zeroedTarget(beta, sink) ?? scratch(dtype, cols);
    let inputDone = false;
    sink(x, (buffer, accumulate) => {
      k.layerNormBackward(x.storage, gamma.storage, mean, rstd, grad, buffer, gradGamma, gradBeta, rows, cols, accumulate);
      inputDone = true;
    });
    if (!inputDone) k.layerNormBackward(x.storage, gamma.storage, mean, rstd, grad, scratch(dtype, x.size), gradGamma, gradBeta, rows, cols, false);
  });
}

/** the input's gradient buffer, cleared if it held nothing yet; null when it needs no gradient */
function zeroedTarget(input: Tensor, sink: GradSink): Storage | null {
  let target: Storage | null = null as Storage | null;
  sink(input, (buffer, accumulate) => {
    if (!accumulate) kernels(input.dtype).fill(buffer, 0, input.size);
    target = buffer;
  });
  return target;
}

export interface AttentionOptions {
  heads: number;
  causal: boolean;
  /** [batch, tokens]: 1 for a real token, 0 for padding (never attended to); a tensor stays where it is, an array goes there */
  keyMask?: Tensor | FloatArray | null;
  /** dropout on attention probabilities (0 when not training) */
  dropout?: number;
  /** seed of the dropout stream, drawn from the run's Rng */
  seed?: number;
}

/**
 * Multi-head scaled dot-product attention on a fused projection qkv [B, T, 3C] -> [B, T, C].
 */
export function attention(qkv: Tensor, options: AttentionOptions): Tensor {
  qkv.assertLive('attention');
  if (qkv.rank !== 3 || (qkv.shape[2] as number) % (3 * options.heads) !== 0) {
    throw new RangeError(`attention: qkv must be [B, T, 3C] with C divisible by ${options.heads} heads, got ${formatShape(qkv.shape)}`);
  }
  const [batch, tokens, width3] = qkv.shape as [number, number, number];
  const channels = width3 / 3;
  const keyMask = options.keyMask ?? null;
  const maskLength = keyMask === null ? 0 : keyMask instanceof Tensor ? keyMask.size : keyMask.length;
  if (keyMask !== null && maskLength !== batch * tokens) {
    throw new RangeError(`attention: key mask has ${maskLength} entries, expected ${batch * tokens} (B x T)`);
  }
  const dropout = options.dropout ?? 0;
  if (!(dropout >= 0 && dropout < 1)) throw new RangeError(`attention: dropout must be in [0, 1), got ${dropout}`);
  const shape: AttentionShape = {
    batch, tokens, heads: options.heads, headDim: channels / options.heads,
    causal: options.causal, dropout, seed: (options.seed ?? 0) >>> 0,
  };
  const dtype = qkv.dtype;
  const mask = keyMask === null ? null
    : keyMask instanceof Tensor ? keyMask.storage
    : hostInput(dtype, dtype === 'float32' ? (keyMask instanceof Float32Array ? keyMask : Float32Array.from(keyMask)) : Float64Array.from(keyMask));
  const probs = scratch(dtype, batch * options.heads * tokens * tokens);
  const out = Tensor.empty([batch, tokens, channels], dtype);
  const k = kernels(dtype);
  k.attention(qkv.storage, mask, probs, out.storage, shape);
  return record('attention', out, [qkv], (grad, sink) => {
    sink(qkv, (buffer, accumulate) => k.attentionBackward(qkv.storage, probs, grad, buffer, shape, accumulate));
  });
}

/** Inverted dropout with the counter-based stream of `seed`. */
export function dropout(x: Tensor, p: number, seed: number): Tensor {
  x.assertLive('dropout');
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout: p must be in [0, 1), got ${p}`);
  if (p === 0) return x;
  const out = Tensor.empty(x.shape, x.dtype);
  const k = kernels(x.dtype);
  const s = seed >>> 0;
  k.dropout(x.storage, out.storage, x.size, p, s);
  return record('dropout', out, [x], (grad, sink) => {
    sink(x, (buffer, accumulate) => k.dropoutBackward(grad, buffer, x.size, p, s, accumulate));
  });
}
