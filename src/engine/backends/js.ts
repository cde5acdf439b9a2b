/**
 * Reference kernels in plain TypeScript. They favour clarity over speed, work in float32 or
 * float64 (the float64 path is what gradient checks use), and are the ground truth the native
 * kernels are tested against.
 */
import {
  dropoutKeep,
  type Activation,
  type AdamStep,
  type AttentionShape,
  type Backend,
  type FloatArray,
  type GemmCall,
  type GemmBatch,
} from '../backend.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_CUBIC = 0.044715;
const INV_SQRT_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** erf to double precision: Taylor series near 0, continued fraction for erfc in the tails */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = x;
    let sum = x;
    const x2 = x * x;
    for (let n = 1; n < 60; n++) {
      term *= -x2 / n;
      const contribution = term / (2 * n + 1);
      sum += contribution;
      if (Math.abs(contribution) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (ax > 6) return Math.sign(x);
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated bottom-up
  let fraction = 0;
  for (let n = 80; n >= 1; n--) fraction = n / 2 / (ax + fraction);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + fraction);
  return Math.sign(x) * (1 - erfc);
}

function softplus(x: number): number {
  return x > 20 ? x : Math.log1p(Math.exp(x));
}

export function activationValue(kind: Activation, x: number): number {
  switch (kind) {
    case 'relu':
      return x > 0 ? x : 0;
    case 'tanh':
      return Math.tanh(x);
    case 'gelu_tanh':
      return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x)));
    case 'gelu_erf':
      return 0.5 * x * (1 + erf(x * INV_SQRT_2));
    case 'mish':
      return x * Math.tanh(softplus(x));
  }
}

export function activationDerivative(kind: Activation, x: number): number {
  switch (kind) {
    case 'relu':
      return x > 0 ? 1 : 0;
    case 'tanh': {
      const t = Math.tanh(x);
      return 1 - t * t;
    }
    case 'gelu_tanh': {
      const inner = SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x);
      const t = Math.tanh(inner);
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_CUBIC * x * x);
    }
    case 'gelu_erf':
      return 0.5 * (1 + erf(x * INV_SQRT_2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
    case 'mish': {
      const t = Math.tanh(softplus(x));
      const sigmoid = 1 / (1 + Math.exp(-x));
      return t + x * (1 - t * t) * sigmoid;
    }
  }
}

function gemmOne(
  transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: FloatArray, aOff: number, lda: number, b: FloatArray, bOff: number, ldb: number,
  beta: number, c: FloatArray, cOff: number, ldc: number,
): void {
  for (let i = 0; i < m; i++) {
    const row = cOff + i * ldc;
    if (beta === 0) c.fill(0, row, row + n);
    else if (beta !== 1) for (let j = 0; j < n; j++) c[row + j] *= beta;
  }
  if (!transB) {
    // i-p-j order: the inner loop walks rows of B and C contiguously
    for (let i = 0; i < m; i++) {
      const row = cOff + i * ldc;
      for (let p = 0; p < k; p++) {
        const aip = alpha * (transA ? a[aOff + p * lda + i] : a[aOff + i * lda + p]);
        if (aip === 0) continue;
        const bRow = bOff + p * ldb;
        for (let j = 0; j < n; j++) c[row + j] += aip * b[bRow + j];
      }
    }
    return;
  }
  // B is stored n x k: each C entry is a dot product of two contiguous rows (when A is not transposed)
  for (let i = 0; i < m; i++) {
    const row = cOff + i * ldc;
    for (let j = 0; j < n; j++) {
      const bRow = bOff + j * ldb;
      let dot = 0;
      if (transA) for (let p = 0; p < k; p++) dot += a[aOff + p * lda + i] * b[bRow + p];
      else {
        const aRow = aOff + i * lda;
        for (let p = 0; p < k; p++) dot += a[aRow + p] * b[bRow + p];
      }
      c[row + j] += alpha * dot;
    }
  }
}

function attentionIndex(shape: AttentionShape, b: number, h: number, i: number): number {
  return ((b * shape.heads + h) * shape.tokens + i) * shape.tokens;
}

function adamMoments(grad: number, param: number, m: FloatArray, v: FloatArray, i: number, step: AdamStep): number {
  const g = step.decoupled ? grad : grad + step.weightDecay * param;
  m[i] = step.beta1 * m[i] + (1 - step.beta1) * g;
  v[i] = step.beta2 * v[i] + (1 - step.beta2) * g * g;
  const denom = Math.sqrt(v[i]) / Math.sqrt(step.biasCorrection2) + step.eps;
  return m[i] / step.biasCorrection1 / denom;
}

export class JsBackend implements Backend {
  readonly name = 'js' as const;

  threads(): number {
    return 1;
  }

  setThreads(): void {
    // single-threaded by design: this backend is the reference
  }

  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: FloatArray, lda: number, b: FloatArray, ldb: number, beta: number,
    c: FloatArray, ldc: number, batch?: GemmBatch,
  ): void {
    const count = batch?.count ?? 1;
    for (let i = 0; i < count; i++) {
      gemmOne(
        transA, transB, m, n, k, alpha,
        a, i * (batch?.strideA ?? 0), lda, b, i * (batch?.strideB ?? 0), ldb,
        beta, c, i * (batch?.strideC ?? 0), ldc,
      );
    }
  }

  gemmPair(first: GemmCall, second: GemmCall): void {
    for (const call of [first, second]) {
      gemmOne(call.transA, call.transB, call.m, call.n, call.k, call.alpha, call.a, 0, call.lda, call.b, 0, call.ldb, call.beta, call.c, 0, call.ldc);
    }
  }

  addBiasRows(x: FloatArray, bias: FloatArray, rows: number, cols: number): void {
    for (let r = 0; r < rows; r++) {
      const off = r * cols;
      for (let c = 0; c < cols; c++) x[off + c] += bias[c];
    }
  }

  sumRows(x: FloatArray, rows: number, cols: number, out: FloatArray, accumulate: boolean): void {
    if (!accumulate) out.fill(0, 0, cols);
    for (let r = 0; r < rows; r++) {
      const off = r * cols;
      for (let c = 0; c < cols; c++) out[c] += x[off + c];
    }
  }

  add(a: FloatArray, b: FloatArray, out: FloatArray, n: number): void {
    for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
  }

  axpy(alpha: number, x: FloatArray, y: FloatArray, n: number): void {
    for (let i = 0; i < n; i++) y[i] += alpha * x[i];
  }

  scale(x: FloatArray, alpha: number, n: number): void {
    for (let i = 0; i < n; i++) x[i] *= alpha;
  }

  sumSquares(x: FloatArray, n: number): number {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += x[i] * x[i];
    return sum;
  }

  activation(kind: Activation, x: FloatArray, out: FloatArray, n: number): void {
    for (let i = 0; i < n; i++) out[i] = activationValue(kind, x[i]);
  }

  activationBackward(kind: Activation, x: FloatArray, gradOut: FloatArray, gradX: FloatArray, n: number, accumulate: boolean): void {
    for (let i = 0; i < n; i++) {
      const g = activationDerivative(kind, x[i]) * gradOut[i];
      gradX[i] = accumulate ? gradX[i] + g : g;
    }
  }

  biasActivation(kind: Activation, x: FloatArray, bias: FloatArray, out: FloatArray, rows: number, cols: number): void {
    this.addBiasRows(x, bias, rows, cols);
    this.activation(kind, x, out, rows * cols);
  }

  activationBackwardBias(
    kind: Activation, x: FloatArray, gradOut: FloatArray, gradX: FloatArray, biasGrad: FloatArray,
    rows: number, cols: number, accumulate: boolean,
  ): void {
    this.activationBackward(kind, x, gradOut, gradX, rows * cols, false);
    this.sumRows(gradX, rows, cols, biasGrad, accumulate);
  }

  dropout(x: FloatArray, out: FloatArray, n: number, p: number, seed: number): void {
    const keepScale = 1 / (1 - p);
    for (let i = 0; i < n; i++) out[i] = dropoutKeep(seed, i, p) ? x[i] * keepScale : 0;
  }

  dropoutBackward(gradOut: FloatArray, gradX: FloatArray, n: number, p: number, seed: number, accumulate: boolean): void {
    const keepScale = 1 / (1 - p);
    for (let i = 0; i < n; i++) {
      const g = dropoutKeep(seed, i, p) ? gradOut[i] * keepScale : 0;
      gradX[i] = accumulate ? gradX[i] + g : g;
    }
  }

  layerNorm(
    x: FloatArray, gamma: FloatArray, beta: FloatArray, out: FloatArray,
    mean: FloatArray, rstd: FloatArray, rows: number, cols: number, eps: number,
  ): void {
    for (let r = 0; r < rows; r++) {
      const off = r * cols;
      let mu = 0;
      for (let c = 0; c < cols; c++) mu += x[off + c];
      mu /= cols;
      let variance = 0;
      for (let c = 0; c < cols; c++) {
        const d = x[off + c] - mu;
        variance += d * d;
      }
      variance /= cols;
      const rs = 1 / Math.sqrt(variance + eps);
      mean[r] = mu;
      rstd[r] = rs;
      for (let c = 0; c < cols; c++) out[off + c] = (x[off + c] - mu) * rs * gamma[c] + beta[c];
    }
  }

  layerNormBackward(
    x: FloatArray, gamma: FloatArray, mean: FloatArray, rstd: FloatArray, gradOut: FloatArray,
    gradX: FloatArray, gradGamma: FloatArray, gradBeta: FloatArray,
    rows: number, cols: number, accumulate: boolean,
  ): void {
    for (let r = 0; r < rows; r++) {
      const off = r * cols;
      const mu = mean[r];
      const rs = rstd[r];
      let meanDxhat = 0;
      let meanDxhatXhat = 0;
      for (let c = 0; c < cols; c++) {
        const xhat = (x[off + c] - mu) * rs;
        const dy = gradOut[off + c];
        const dxhat = dy * gamma[c];
        meanDxhat += dxhat;
        meanDxhatXhat += dxhat * xhat;
        gradGamma[c] += dy * xhat;
        gradBeta[c] += dy;
      }
      meanDxhat /= cols;
      meanDxhatXhat /= cols;
      for (let c = 0; c < cols; c++) {
        const xhat = (x[off + c] - mu) * rs;
        const g = rs * (gradOut[off + c] * gamma[c] - meanDxhat - xhat * meanDxhatXhat);
        gradX[off + c] = accumulate ? gradX[off + c] + g : g;
      }
    }
  }

  attention(qkv: FloatArray, keyMask: FloatArray | null, probs: FloatArray, out: FloatArray, shape: AttentionShape): void {
    const { batch, tokens: T, heads, headDim: D, causal, dropout: p, seed } = shape;
    const C = heads * D;
    const rowStride = 3 * C;
    const scaleQk = 1 / Math.sqrt(D);
    const keepScale = p > 0 ? 1 / (1 - p) : 1;
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < T; i++) {
          const pRow = attentionIndex(shape, b, h, i);
          const qOff = (b * T + i) * rowStride + h * D;
          const last = causal ? i : T - 1;
          let maxScore = -Infinity;
          for (let j = 0; j < T; j++) {
            const visible = j <= last && (keyMask === null || keyMask[b * T + j] !== 0);
            if (!visible) {
              probs[pRow + j] = -Infinity;
              continue;
            }
            const kOff = (b * T + j) * rowStride + C + h * D;
            let dot = 0;
            for (let d = 0; d < D; d++) dot += qkv[qOff + d] * qkv[kOff + d];
            const score = dot * scaleQk;
            probs[pRow + j] = score;
            if (score > maxScore) maxScore = score;
          }
          let total = 0;
          for (let j = 0; j < T; j++) {
            const e = maxScore === -Infinity ? 0 : Math.exp(probs[pRow + j] - maxScore);
            probs[pRow + j] = e;
            total += e;
          }
          const inv = total > 0 ? 1 / total : 0;
          for (let j = 0; j < T; j++) probs[pRow + j] *= inv;

          const oOff = (b * T + i) * C + h * D;
          for (let d = 0; d < D; d++) out[oOff + d] = 0;
          for (let j = 0; j < T; j++) {
            let weight = probs[pRow + j];
            if (weight === 0) continue;
            if (p > 0) weight = dropoutKeep(seed, pRow + j, p) ? weight * keepScale : 0;
            const vOff = (b * T + j) * rowStride + 2 * C + h * D;
            for (let d = 0; d < D; d++) out[oOff + d] += weight * qkv[vOff + d];
          }
        }
      }
    }
  }

  attentionBackward(
    qkv: FloatArray, probs: FloatArray, gradOut: FloatArray, gradQkv: FloatArray,
    shape: AttentionShape, accumulate: boolean,
  ): void {
    const { batch, tokens: T, heads, headDim: D, dropout: p, seed } = shape;
    const C = heads * D;
    const rowStride = 3 * C;
    const scaleQk = 1 / Math.sqrt(D);
    const keepScale = p > 0 ? 1 / (1 - p) : 1;
    if (!accumulate) gradQkv.fill(0, 0, batch * T * rowStride);
    const gradProbs = new Float64Array(T);
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < T; i++) {
          const pRow = attentionIndex(shape, b, h, i);
          const qOff = (b * T + i) * rowStride + h * D;
          const oOff = (b * T + i) * C + h * D;
          // dP'[j] = dOut . v_j ; dV_j += P'[j] dOut ; dP = dP' * dropout mask
          let dot = 0;
          for (let j = 0; j < T; j++) {
            const pj = probs[pRow + j];
            if (pj === 0) {
              gradProbs[j] = 0;
              continue;
            }
            const keep = p > 0 ? (dropoutKeep(seed, pRow + j, p) ? keepScale : 0) : 1;
            const vOff = (b * T + j) * rowStride + 2 * C + h * D;
            let gp = 0;
            for (let d = 0; d < D; d++) {
              gp += gradOut[oOff + d] * qkv[vOff + d];
              gradQkv[vOff + d] += pj * keep * gradOut[oOff + d];
            }
            gradProbs[j] = gp * keep;
            dot += gradProbs[j] * pj;
          }
          // softmax backward, then through the scaled dot product
          for (let j = 0; j < T; j++) {
            const pj = probs[pRow + j];
            if (pj === 0) continue;
            const gradScore = pj * (gradProbs[j] - dot) * scaleQk;
            const kOff = (b * T + j) * rowStride + C + h * D;
            for (let d = 0; d < D; d++) {
              gradQkv[qOff + d] += gradScore * qkv[kOff + d];
              gradQkv[kOff + d] += gradScore * qkv[qOff + d];
            }
          }
        }
      }
    }
  }

  gatherRows(table: FloatArray, index: Int32Array, out: FloatArray, cols: number): void {
    for (let r = 0; r < index.length; r++) {
      const src = index[r] * cols;
      out.set(table.subarray(src, src + cols), r * cols);
    }
  }

  scatterAddRows(gradOut: FloatArray, index: Int32Array, gradTable: FloatArray, cols: number): void {
    for (let r = 0; r < index.length; r++) {
      const dst = index[r] * cols;
      const src = r * cols;
      for (let c = 0; c < cols; c++) gradTable[dst + c] += gradOut[src + c];
    }
  }

  adamUpdate(param: FloatArray, grad: FloatArray, m: FloatArray, v: FloatArray, n: number, step: AdamStep): void {
    const decay = step.decoupled ? 1 - step.lr * step.weightDecay : 1;
    for (let i = 0; i < n; i++) {
      const p = param[i] * decay;
      param[i] = p - step.lr * adamMoments(grad[i], param[i], m, v, i, step);
    }
  }

  lambUpdate(param: FloatArray, grad: FloatArray, m: FloatArray, v: FloatArray, update: FloatArray, n: number, step: AdamStep): void {
    const decoupledStep = { ...step, decoupled: true };
    let paramNorm = 0;
    let updateNorm = 0;
    for (let i = 0; i < n; i++) {
      const u = adamMoments(grad[i], param[i], m, v, i, decoupledStep) + step.weightDecay * param[i];
      update[i] = u;
      paramNorm += param[i] * param[i];
      updateNorm += u * u;
    }
    paramNorm = Math.sqrt(paramNorm);
    updateNorm = Math.sqrt(updateNorm);
    const ratio = paramNorm > 0 && updateNorm > 0 ? paramNorm / updateNorm : 1;
    for (let i = 0; i < n; i++) param[i] -= step.lr * ratio * update[i];
  }
}
