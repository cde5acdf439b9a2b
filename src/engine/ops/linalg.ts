/** Matrix products. Weights follow PyTorch's nn.Linear layout [out, in], so checkpoints map one to one. */
import { acquireStorage, assertSameDType, formatShape, record, releaseStorage, scratch, Tensor, type GradSink } from '../tensor.js';
import type { Activation, GemmCall, Storage } from '../backend.js';
import { kernels } from './kernels.js';

/**
 * y = x W^T + b for x [..., in], W [out, in], b [out] or null, optionally followed by an
 * activation: f(x W^T + b) in one op, so that the bias add and the activation share one pass over
 * the product (and their gradients one pass over dY). One GEMM over all leading dimensions.
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null, activation?: Activation): Tensor {
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
  const size = rows * outFeatures;
  const out = Tensor.empty([...x.shape.slice(0, -1), outFeatures], dtype);
  const k = kernels(dtype);
  // with an activation the product plus bias is kept privately for the backward pass
  const product = activation === undefined ? out.storage : scratch(dtype, size);
  k.gemm(false, true, rows, outFeatures, inFeatures, 1, x.storage, inFeatures, weight.storage, inFeatures, 0, product, outFeatures);
  if (activation !== undefined) {
    let biasData = bias?.storage;
    if (biasData === undefined) {
      biasData = scratch(dtype, outFeatures);
      k.fill(biasData, 0, outFeatures);
    }
    k.biasActivation(activation, product, biasData, out.storage, rows, outFeatures);
  } else if (bias !== null) {
    k.addBiasRows(out.storage, bias.storage, rows, outFeatures);
  }

  const inputs = bias === null ? [x, weight] : [x, weight, bias];
  return record(activation === undefined ? 'linear' : `linear+${activation}`, out, inputs, (grad, sink) => {
    let productGrad = grad;
    if (activation !== undefined) {
      // dPre = f'(pre) dY, with db = its column sums in the same pass
      productGrad = acquireStorage(dtype, size);
      const preGrad = productGrad;
      let biasDone = false;
      if (bias !== null) {
        sink(bias, (buffer, accumulate) => {
          k.activationBackwardBias(activation, product, grad, preGrad, buffer, rows, outFeatures, accumulate);
          biasDone = true;
        });
      }
      if (!biasDone) k.activationBackward(activation, product, grad, preGrad, size, false);
    } else if (bias !== null) {
      sink(bias, (buffer, accumulate) => k.sumRows(grad, rows, outFeatures, buffer, accumulate));
    }
    productBackward(productGrad, sink);
    if (productGrad !== grad) releaseStorage(productGrad);
  });

  // dX = dPre W ; dW = dPre^T X
  function productBackward(gradPre: Storage, sink: GradSink): void {
    const inputGradient = (buffer: Storage, accumulate: boolean): GemmCall<Storage> => ({
      transA: false, transB: false, m: rows, n: inFeatures, k: outFeatures, alpha: 1,
      a: gradPre, lda: outFeatures, b: weight.storage, ldb: inFeatures, beta: accumulate ? 1 : 0, c: buffer, ldc: inFeatures,
    });
    const weightGradient = (buffer: Storage, accumulate: boolean): GemmCall<Storage> => ({
      transA: true, transB: false, m: outFeatures, n: inFeatures, k: rows, alpha: 1,
      a: gradPre, lda: outFeatures, b: x.storage, ldb: inFeatures, beta: accumulate ? 1 : 0, c: buffer, ldc: inFeatures,
    });
    if (x.requiresGrad && weight.requiresGrad) {
      // independent products: the backend may run them side by side
      sink(x, (xBuffer, xAccumulate) => sink(weight, (weightBuffer, weightAccumulate) =>
        k.gemmPair(inputGradient(xBuffer, xAccumulate), weightGradient(weightBuffer, weightAccumulate))));
    } else {
      const run = (call: GemmCall<Storage>): void =>
        k.gemm(call.transA, call.transB, call.m, call.n, call.k, call.alpha, call.a, call.lda, call.b, call.ldb, call.beta, call.c, call.ldc);
      sink(x, (buffer, accumulate) => run(inputGradient(buffer, accumulate)));
      sink(weight, (buffer, accumulate) => run(weightGradient(buffer, accumulate)));
    }
  }
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
  k.gemm(transA, transB, m, n, kDim, 1, a.storage, ac, b.storage, bc, 0, out.storage, n, batch);

  return record('matmul', out, [a, b], (grad, sink) => {
    // C = op(A) op(B): dop(A) = dC op(B)^T, dop(B) = op(A)^T dC, then undo the transposes
    sink(a, (buffer, accumulate) => {
      const beta = accumulate ? 1 : 0;
      const gradBatch = { count, strideA: m * n, strideB: br * bc, strideC: ar * ac };
      if (!transA) k.gemm(false, !transB, m, kDim, n, 1, grad, n, b.storage, bc, beta, buffer, ac, gradBatch);
      else k.gemm(transB, true, kDim, m, n, 1, b.storage, bc, grad, n, beta, buffer, ac, { count, strideA: br * bc, strideB: m * n, strideC: ar * ac });
    });
    sink(b, (buffer, accumulate) => {
      const beta = accumulate ? 1 : 0;
      if (!transB) k.gemm(!transA, false, kDim, n, m, 1, a.storage, ac, grad, n, beta, buffer, bc, { count, strideA: ar * ac, strideB: m * n, strideC: br * bc });
      else k.gemm(true, transA, n, kDim, m, 1, grad, n, a.storage, ac, beta, buffer, bc, { count, strideA: m * n, strideB: ar * ac, strideC: br * bc });
    });
  });
}
