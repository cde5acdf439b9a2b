/** Matrix products. Weights follow PyTorch's nn.Linear layout [out, in], so checkpoints map one to one. */
import { assertSameDType, formatShape, record, Tensor } from '../tensor.js';
import type { FloatArray, GemmCall } from '../backend.js';
import { kernels } from './kernels.js';

/**
 * y = x W^T + b for x [..., in], W [out, in], b [out] or null.
 * One GEMM over all leading dimensions; the bias is added in place.
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  const dtype = bias === null ? assertSameDType('linear', x, weight) : assertSameDType('linear', x, weight, bias);
  if (weight.rank !== 2) throw new RangeError(`linear: weight must be [out, in], got ${formatShape(weight.shape)}`);
  const [outFeatures, inFeatures] = weight.shape as [number, number];
  if (x.rank < 1 || x.shape[x.rank - 1] !== inFeatures) {
    throw new RangeError(`linear: input ${formatShape(x.shape)} does not end in ${inFeatures} (weight ${formatShape(weight.shape)})`);
  }
  if (bias !== null && (bias.rank !== 1 || bias.shape[0] !== outFeatures)) {
    throw new RangeError(`linear: bias ${formatShape(bias.shape)} does not match ${outFeatures} outputs`);
  }
  const rows = x.size / inFeatures;
  const out = Tensor.empty([...x.shape.slice(0, -1), outFeatures], dtype);
  const k = kernels(dtype);
  k.gemm(false, true, rows, outFeatures, inFeatures, 1, x.data, inFeatures, weight.data, inFeatures, 0, out.data, outFeatures);
  if (bias !== null) k.addBiasRows(out.data, bias.data, rows, outFeatures);

  const inputs = bias === null ? [x, weight] : [x, weight, bias];
  return record('linear', out, inputs, (grad, sink) => {
    // dX = dY W ; dW = dY^T X ; db = column sums of dY
    const inputGradient = (buffer: FloatArray, accumulate: boolean): GemmCall => ({
      transA: false, transB: false, m: rows, n: inFeatures, k: outFeatures, alpha: 1,
      a: grad, lda: outFeatures, b: weight.data, ldb: inFeatures, beta: accumulate ? 1 : 0, c: buffer, ldc: inFeatures,
    });
    const weightGradient = (buffer: FloatArray, accumulate: boolean): GemmCall => ({
      transA: true, transB: false, m: outFeatures, n: inFeatures, k: rows, alpha: 1,
      a: grad, lda: outFeatures, b: x.data, ldb: inFeatures, beta: accumulate ? 1 : 0, c: buffer, ldc: inFeatures,
    });
    if (x.requiresGrad && weight.requiresGrad) {
      // independent products: the backend may run them side by side
      sink(x, (xBuffer, xAccumulate) => sink(weight, (weightBuffer, weightAccumulate) =>
        k.gemmPair(inputGradient(xBuffer, xAccumulate), weightGradient(weightBuffer, weightAccumulate))));
    } else {
      const run = (call: GemmCall): void =>
        k.gemm(call.transA, call.transB, call.m, call.n, call.k, call.alpha, call.a, call.lda, call.b, call.ldb, call.beta, call.c, call.ldc);
      sink(x, (buffer, accumulate) => run(inputGradient(buffer, accumulate)));
      sink(weight, (buffer, accumulate) => run(weightGradient(buffer, accumulate)));
    }
    if (bias !== null) sink(bias, (buffer, accumulate) => k.sumRows(grad, rows, outFeatures, buffer, accumulate));
  });
}

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

/**
 * Matrix product of the last two axes: [m, k] x [k, n] or batched [b, m, k] x [b, k, n]
 * (same batch size), with optional transposes of either operand.
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const dtype = assertSameDType('matmul', a, b);
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  if (a.rank < 2 || a.rank > 3 || a.rank !== b.rank) {
    throw new RangeError(`matmul: needs two rank-2 or two rank-3 tensors, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
  }
  const batched = a.rank === 3;
  const count = batched ? (a.shape[0] as number) : 1;
  if (batched && b.shape[0] !== count) throw new RangeError(`matmul: batch sizes differ: ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const m = transA ? ac : ar;
  const kDim = transA ? ar : ac;
  const kB = transB ? bc : br;
  const n = transB ? br : bc;
  if (kDim !== kB) {
    throw new RangeError(`matmul: inner dimensions differ: ${formatShape(a.shape)}${transA ? 'ᵀ' : ''} x ${formatShape(b.shape)}${transB ? 'ᵀ' : ''}`);
  }
  const out = Tensor.empty(batched ? [count, m, n] : [m, n], dtype);
  const k = kernels(dtype);
  const batch = { count, strideA: ar * ac, strideB: br * bc, strideC: m * n };
  k.gemm(transA, transB, m, n, kDim, 1, a.data, ac, b.data, bc, 0, out.data, n, batch);

  return record('matmul', out, [a, b], (grad, sink) => {
    // C = op(A) op(B): dop(A) = dC op(B)^T, dop(B) = op(A)^T dC, then undo the transposes
    sink(a, (buffer, accumulate) => {
      const beta = accumulate ? 1 : 0;
      const gradBatch = { count, strideA: m * n, strideB: br * bc, strideC: ar * ac };
      if (!transA) k.gemm(false, !transB, m, kDim, n, 1, grad, n, b.data, bc, beta, buffer, ac, gradBatch);
      else k.gemm(transB, true, kDim, m, n, 1, b.data, bc, grad, n, beta, buffer, ac, { count, strideA: br * bc, strideB: m * n, strideC: ar * ac });
    });
    sink(b, (buffer, accumulate) => {
      const beta = accumulate ? 1 : 0;
      if (!transB) k.gemm(!transA, false, kDim, n, m, 1, a.data, ac, grad, n, beta, buffer, bc, { count, strideA: ar * ac, strideB: m * n, strideC: br * bc });
      else k.gemm(true, transA, n, kDim, m, 1, grad, n, a.data, ac, beta, buffer, bc, { count, strideA: m * n, strideB: ar * ac, strideC: br * bc });
    });
  });
}
