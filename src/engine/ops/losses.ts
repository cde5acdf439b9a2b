/** Losses of the return-conditioned methods, on rows of [rows, cols] predictions. */
import type { FloatArray } from '../backend.js';
import { assertSameDType, formatShape, hostInput, record, Tensor } from '../tensor.js';
import { addScalar, div, exp, expectileWeight, mul, scale, square, sub, sum } from './elementwise.js';
import { kernels } from './kernels.js';
import { reshape } from './shape.js';

const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);

function rowsOf(op: string, x: Tensor, weights: FloatArray | undefined): { rows: number; cols: number } {
  const cols = x.rank === 0 ? 1 : (x.shape[x.rank - 1] as number);
  const rows = cols === 0 ? 0 : x.size / cols;
  if (weights !== undefined && weights.length !== rows) {
    throw new RangeError(`${op}: ${weights.length} row weights for ${rows} rows of ${formatShape(x.shape)}`);
  }
  return { rows, cols };
}

export interface MseOptions {
  /** per-row weight: 0 for padding, 1 for data, more to up-weight a row */
  weights?: FloatArray;
  /** divide by this instead of (sum of weights) x cols */
  normalizer?: number;
}

/**
 * Mean squared error over valid rows: sum_r w_r sum_c (pred - target)^2 / (sum_r w_r * cols).
 * With all-ones weights this is torch's MSE over the unpadded positions.
 */
export function mseLoss(pred: Tensor, target: Tensor, options: MseOptions = {}): Tensor {
  const dtype = assertSameDType('mseLoss', pred, target);
  if (pred.size !== target.size || pred.rank !== target.rank || pred.shape.some((d, i) => d !== target.shape[i])) {
    throw new RangeError(`mseLoss: prediction ${formatShape(pred.shape)} and target ${formatShape(target.shape)} differ`);
  }
  const { weights } = options;
  const { rows, cols } = rowsOf('mseLoss', pred, weights);
  let weightSum = rows;
  if (weights !== undefined) {
    weightSum = 0;
    for (let r = 0; r < rows; r++) weightSum += weights[r] as number;
  }
  const normalizer = options.normalizer ?? weightSum * cols;
  const k = kernels(dtype);
  const rowWeights = weights === undefined ? null : hostInput(dtype, weights);
  const out = Tensor.empty([], dtype);
  k.mseRows(pred.storage, target.storage, rowWeights, out.storage, rows, cols, normalizer);
  return record('mseLoss', out, [pred, target], (grad, sink) => {
    sink(pred, (buffer, accumulate) => k.mseRowsBackward(pred.storage, target.storage, rowWeights, grad, buffer, rows, cols, normalizer, 1, accumulate));
    sink(target, (buffer, accumulate) => k.mseRowsBackward(pred.storage, target.storage, rowWeights, grad, buffer, rows, cols, normalizer, -1, accumulate));
  });
}

/** Elementwise log N(x; mean, exp(logStd)^2); logStd broadcasts (a state-independent std is [cols]). */
export function gaussianLogProb(x: Tensor, mean: Tensor, logStd: Tensor): Tensor {
  const z = div(sub(x, mean), exp(logStd));
  return addScalar(sub(scale(square(z), -0.5), logStd), -HALF_LOG_TWO_PI);
}

/** Elementwise entropy of N(., exp(logStd)^2): logStd + 1/2 + log(2 pi)/2. */
export function gaussianEntropy(logStd: Tensor): Tensor {
  return addScalar(logStd, 0.5 + HALF_LOG_TWO_PI);
}

/** sum_r w_r sum_c x[r, c] / sum_r w_r: a mean over valid rows of the per-row sums. */
export function maskedRowSumMean(x: Tensor, weights: FloatArray): Tensor {
  const { rows, cols } = rowsOf('maskedRowSumMean', x, weights);
  let weightSum = 0;
  for (let r = 0; r < rows; r++) weightSum += weights[r] as number;
  // float32 weights are borrowed: no copy on the CPU, and on a device the copy a step staged (a batch's mask) is reused
  const w = weights instanceof Float32Array && x.dtype === 'float32' ? Tensor.borrow(weights, [rows, 1]) : Tensor.from(weights, [rows, 1], x.dtype);
  const weighted = mul(x.rank === 2 ? x : reshape(x, [rows, cols]), w);
  return scale(sum(weighted), weightSum > 0 ? 1 / weightSum : 0);
}

/**
 * Expectile regression of `pred` towards `target` (both [rows, 1] or [rows]):
 * u = (target - pred) / normalizer; loss = mean over valid rows of |m - 1[u < 0]| u^2.
 * Under-prediction costs m, over-prediction 1 - m: with m near 1, pred tracks an upper expectile.
 */
export function expectileLoss(pred: Tensor, target: Tensor, expectile: number, weights: FloatArray, normalizer = 1): Tensor {
  if (!(expectile > 0 && expectile < 1)) throw new RangeError(`expectileLoss: expectile must be in (0, 1), got ${expectile}`);
  if (!(normalizer > 0)) throw new RangeError(`expectileLoss: normalizer must be positive, got ${normalizer}`);
  const u = scale(sub(target, pred), 1 / normalizer);
  const asymmetry = expectileWeight(u, expectile);
  const perRow = mul(square(u), asymmetry);
  return maskedRowSumMean(perRow.rank === 2 ? perRow : reshape(perRow, [weights.length, -1]), weights);
}

