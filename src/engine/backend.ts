/**
 * The kernel layer. Everything numeric that is hot goes through this interface, so that a
 * native (OpenBLAS) implementation, the TypeScript reference and, later, a WebAssembly one are
 * interchangeable. All matrices are row-major. Arrays are passed as views (`subarray`), so a
 * kernel always starts at index 0 of what it is given.
 *
 * Kernels that produce gradients take `accumulate`: when true they add into the output,
 * when false they overwrite it. This lets the tape sum gradients without an extra pass.
 */

import type { Scalar } from './scalar.js';
import type { FloatArray, IndexStorage, Storage } from './storage.js';

export { isHostStorage, isWasmArray, type FloatArray, type IndexStorage, type Storage, type WasmArray } from './storage.js';

export type Activation = 'relu' | 'gelu_tanh' | 'gelu_erf' | 'tanh' | 'mish';

export interface GemmBatch {
  /** number of independent products */
  count: number;
  /** element distance between consecutive A, B, C matrices */
  strideA: number;
  strideB: number;
  strideC: number;
}

export interface AttentionShape {
  batch: number;
  /** sequence length (tokens) */
  tokens: number;
  heads: number;
  /** per-head width; the model width is heads * headDim */
  headDim: number;
  /** mask out keys j > i */
  causal: boolean;
  /** dropout on the attention probabilities (GPT-2 style); 0 disables it */
  dropout: number;
  /** seed of the counter-based dropout stream (see dropoutKeep) */
  seed: number;
}

export interface AdamStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** true: AdamW (p -= lr*wd*p before the update); false: Adam with L2 (g += wd*p) */
  decoupled: boolean;
  /** 1 - beta1^t and 1 - beta2^t */
  biasCorrection1: number;
  biasCorrection2: number;
}

/** One unbatched product C = alpha * op(A) op(B) + beta * C, as `gemm`'s arguments. */
export interface GemmCall<A = FloatArray> {
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  alpha: number;
  a: A;
  lda: number;
  b: A;
  ldb: number;
  beta: number;
  c: A;
  ldc: number;
}

/** Element-wise functions of one tensor with up to two constant parameters (a, b). */
export type UnaryKind =
  /** -x */ | 'neg'
  /** e^x */ | 'exp'
  /** ln x */ | 'log'
  /** sqrt x */ | 'sqrt'
  /** x^2 */ | 'square'
  /** |x| (derivative sign(x), 0 at 0) */ | 'abs'
  /** a x */ | 'scale'
  /** x + a */ | 'addScalar'
  /** x < a ? a : x > b ? b : x (gradient passes where a <= x <= b, as torch.clamp) */ | 'clip'
  /** |a - (x < 0 ? 1 : 0)|: the expectile loss's asymmetric weight (no gradient) */ | 'expectileWeight';

/** Element-wise functions of two tensors, with broadcasting. */
export type BinaryKind = 'add' | 'sub' | 'mul' | 'div' | 'minimum' | 'maximum';

/** the most axes a broadcast or reduction layout may have */
export const MAX_LAYOUT_RANK = 6;

/**
 * A broadcast of two operands to one output shape. Output element i (row-major over `shape`)
 * reads a[sum_k coord_k(i) * aStrides[k]] and b[... bStrides[k]]; a stride is 0 on an axis the
 * operand is broadcast along. At most MAX_LAYOUT_RANK axes.
 */
export interface BroadcastLayout {
  shape: readonly number[];
  aStrides: readonly number[];
  bStrides: readonly number[];
}

/**
 * A many-to-one map from a tensor of `shape` (row-major) to a smaller one: element i goes to
 * offset sum_k coord_k(i) * strides[k], with stride 0 on the axes that are summed away.
 * At most MAX_LAYOUT_RANK axes.
 */
export interface ReduceLayout {
  shape: readonly number[];
  strides: readonly number[];
}

/** `count` blocks of `width` contiguous elements: block o reads src[srcOffset + o * srcStride + i], writes dst[dstOffset + o * dstStride + i] */
export interface CopyBlocks {
  count: number;
  width: number;
  srcOffset: number;
  srcStride: number;
  dstOffset: number;
  dstStride: number;
}

/**
 * Every kernel the ops use, on arrays of type A (host typed arrays, or a device backend's
 * handles) with row indices of type I. Kernels only write their outputs; on a device they are
 * queued, and values reach the host only through an explicit read.
 */
export interface Kernels<A, I> {
  /**
   * C[i] = alpha * op(A[i]) op(B[i]) + beta * C[i] for i < batch.count.
   * op(A) is m x k, op(B) is k x n, C is m x n with leading dimension ldc.
   * transA means A is stored k x m (lda >= m), otherwise m x k (lda >= k); likewise B.
   */
  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: A, lda: number, b: A, ldb: number, beta: number,
    c: A, ldc: number, batch?: GemmBatch,
  ): void;

  /**
   * Two independent products, each as `gemm` without batching. Neither C may overlap the other
   * product's A, B or C. The native backend runs them side by side, one thread each.
   */
  gemmPair(first: GemmCall<A>, second: GemmCall<A>): void;

  /** x[r, c] += bias[c] for a rows x cols matrix */
  addBiasRows(x: A, bias: A, rows: number, cols: number): void;
  /** out[c] (+)= sum_r x[r, c] */
  sumRows(x: A, rows: number, cols: number, out: A, accumulate: boolean): void;

  /** out[i] = a[i] + b[i] (out may alias a or b) */
  add(a: A, b: A, out: A, n: number): void;
  /** y[i] += alpha * x[i] */
  axpy(alpha: number, x: A, y: A, n: number): void;
  /** x[i] *= alpha */
  scale(x: A, alpha: number, n: number): void;

  /** out[i] = f(x[i]) */
  activation(kind: Activation, x: A, out: A, n: number): void;
  /** gradX[i] (+)= f'(x[i]) * gradOut[i] */
  activationBackward(kind: Activation, x: A, gradOut: A, gradX: A, n: number, accumulate: boolean): void;
  /**
   * A linear layer's bias and activation in one pass over a rows x cols matrix:
   * x[r, c] += bias[c] (x keeps the pre-activation), out[r, c] = f(x[r, c]).
   */
  biasActivation(kind: Activation, x: A, bias: A, out: A, rows: number, cols: number): void;
  /** biasActivation's backward: gradX = f'(x) * gradOut (overwritten) and biasGrad (+)= its column sums */
  activationBackwardBias(
    kind: Activation, x: A, gradOut: A, gradX: A, biasGrad: A,
    rows: number, cols: number, accumulate: boolean,
  ): void;

  /** out[i] = keep(seed, i) ? x[i] / (1 - p) : 0 (out may alias x) */
  dropout(x: A, out: A, n: number, p: number, seed: number): void;
  /** gradX[i] (+)= keep(seed, i) ? gradOut[i] / (1 - p) : 0 */
  dropoutBackward(gradOut: A, gradX: A, n: number, p: number, seed: number, accumulate: boolean): void;

  /**
   * LayerNorm over the last axis of a rows x cols matrix (biased variance, like PyTorch).
   * Writes mean[r] and rstd[r] = 1/sqrt(var + eps) for the backward pass.
   */
  layerNorm(
    x: A, gamma: A, beta: A, out: A,
    mean: A, rstd: A, rows: number, cols: number, eps: number,
  ): void;
  /** gradX (+)= ..., gradGamma += ..., gradBeta += ... (parameter grads always accumulate) */
  layerNormBackward(
    x: A, gamma: A, mean: A, rstd: A, gradOut: A,
    gradX: A, gradGamma: A, gradBeta: A,
    rows: number, cols: number, accumulate: boolean,
  ): void;

  /**
   * Multi-head scaled dot-product attention on a fused projection.
   * qkv: [batch * tokens, 3 * C] with C = heads * headDim; head h reads q at columns
   * h*headDim, k at C + h*headDim, v at 2C + h*headDim.
   * keyMask: optional [batch * tokens], 1 for a real token, 0 for padding (never attended to).
   * Masked keys get probability exactly 0; a query with no visible key outputs zeros.
   * probs: [batch, heads, tokens, tokens], softmax before dropout, saved for the backward pass.
   * out: [batch * tokens, C], heads concatenated.
   */
  attention(qkv: A, keyMask: A | null, probs: A, out: A, shape: AttentionShape): void;
  /** gradQkv (+)= d(out)/d(qkv) . gradOut */
  attentionBackward(
    qkv: A, probs: A, gradOut: A, gradQkv: A,
    shape: AttentionShape, accumulate: boolean,
  ): void;

  /** out[r, :] = table[index[r], :] */
  gatherRows(table: A, index: I, out: A, cols: number): void;
  /** gradTable[index[r], :] += gradOut[r, :] */
  scatterAddRows(gradOut: A, index: I, gradTable: A, cols: number): void;

  /**
   * one Adam / AdamW update of a parameter tensor in place. With `guard`, nothing is written
   * unless guard[0] is finite (a device step refuses a non-finite gradient norm without reading it).
   */
  adamUpdate(param: A, grad: A, m: A, v: A, n: number, step: AdamStep, guard?: A): void;
  /**
   * One LAMB update (NVLAMB as in timm): u = m_hat / (sqrt(v_hat) + eps) + wd * p,
   * ratio = |p| / |u| when both are > 0 else 1, p -= lr * ratio * u.
   * `update` is scratch of length n. Always decoupled; `step.decoupled` is ignored.
   */
  lambUpdate(param: A, grad: A, m: A, v: A, update: A, n: number, step: AdamStep, guard?: A): void;
}

/**
 * The kernels that replace what used to be host loops in the ops (fills, block copies, element-wise
 * math with broadcasting, reductions, the weighted MSE). Not hot in the models Stitch trains: the
 * CPU backends share one host implementation (backends/generic.ts, called by HostTensorBackend);
 * webgpu has WGSL versions.
 */
export interface GenericKernels<A> {
  /** x[i] = value for i < n */
  fill(x: A, value: number, n: number): void;
  /** dst[...] (+)= src[...] for each block (see CopyBlocks); src and dst are distinct arrays */
  copyBlocks(src: A, dst: A, blocks: CopyBlocks, accumulate: boolean): void;
  /** out[i] = f(x[i]; a, b) (see UnaryKind); out and x are distinct */
  unary(kind: UnaryKind, x: A, out: A, n: number, a: number, b: number): void;
  /** gradX[i] (+)= gradOut[i] * f'(x[i]), where y = f(x) is the forward output (exp and sqrt use it) */
  unaryBackward(kind: UnaryKind, x: A, y: A, gradOut: A, gradX: A, n: number, a: number, b: number, accumulate: boolean): void;
  /** out[i] = a[offA(i)] op b[offB(i)] over the layout; a and b may be the same array */
  binary(kind: BinaryKind, a: A, b: A, out: A, layout: BroadcastLayout): void;
  /**
   * The gradient of one operand (`input`): gradInput[j] (+)= sum over output elements i that read
   * element j, in increasing i, of gradOut[i] * d(a op b)/d(input) at (a[offA(i)], b[offB(i)]).
   * d/da, d/db: add 1, 1; sub 1, -1; mul b, a; div 1/b, -a/b^2; minimum (a <= b), (a > b);
   * maximum (a >= b), (a < b).
   */
  binaryBackward(
    kind: BinaryKind, a: A, b: A, gradOut: A, gradInput: A,
    input: 'a' | 'b', layout: BroadcastLayout, accumulate: boolean,
  ): void;
  /** out[j] (+)= sum, in increasing i, of x[i] over the elements i the layout maps to j */
  reduceTo(x: A, out: A, layout: ReduceLayout, accumulate: boolean): void;
  /** out[i] (+)= x[off(i)] for every element i of the layout's shape (reduceTo's adjoint) */
  expand(x: A, out: A, layout: ReduceLayout, accumulate: boolean): void;
  /**
   * Weighted mean squared error over rows of [rows, cols]: out[0] = sum_r w_r sum_c (pred - target)^2 / normalizer
   * (0 when normalizer <= 0); weights null means all ones.
   */
  mseRows(pred: A, target: A, weights: A | null, out: A, rows: number, cols: number, normalizer: number): void;
  /** gradInput[r, c] (+)= sign * (2 gradOut[0] / normalizer) * w_r * (pred - target)[r, c] (0 when normalizer <= 0) */
  mseRowsBackward(
    pred: A, target: A, weights: A | null, gradOut: A, gradInput: A,
    rows: number, cols: number, normalizer: number, sign: 1 | -1, accumulate: boolean,
  ): void;

}

/** A CPU backend: the kernels on host typed arrays (float32, or float64 for gradient checks). */
export interface Backend extends Kernels<FloatArray, Int32Array> {
  readonly name: 'js' | 'native' | 'wasm';
  /** threads the kernels use */
  threads(): number;
  setThreads(n: number): void;
  /** sum of x[i]^2, accumulated in double precision */
  sumSquares(x: FloatArray, n: number): number;
}

export type BackendName = 'native' | 'wasm' | 'js' | 'webgpu';

/** one array of a group whose global norm is taken (parameter gradients) */
export interface NormArray {
  array: Storage;
  n: number;
}

/**
 * What tensors need from the backend they run on: the kernels on storage handles, plus
 * allocation, uploads and explicit, asynchronous reads. The CPU backends wrap a `Backend`
 * (backends/host.ts: storage is a host array, uploads borrow, reads copy); the webgpu backend
 * keeps every storage on the device and queues every kernel.
 */
export interface TensorBackend extends Kernels<Storage, IndexStorage>, GenericKernels<Storage> {
  readonly name: BackendName;
  /** true when storage lives on a device: host code must read values with `await read()` */
  readonly resident: boolean;
  threads(): number;
  setThreads(n: number): void;
  /** float32 storage of n elements with unspecified contents (pooled by the backend) */
  allocate(n: number): Storage;
  /** hands storage from `allocate` or an upload back to the backend's pool */
  release(storage: Storage): void;
  /** the values of `data` where the backend keeps them (host backends return `data` itself: borrow, never pool it) */
  upload(data: Float32Array): Storage;
  /** several arrays in one transfer (a training step's sampled batch), as `upload` each */
  uploadBatch(arrays: readonly (Float32Array | Int32Array)[]): (Storage | IndexStorage)[];
  /** row indices, as `upload` */
  uploadIndices(data: Int32Array): IndexStorage;
  /** overwrites the first data.length elements of storage */
  write(storage: Storage, data: FloatArray): void;
  /** a host copy of the first n elements, after all queued work */
  read(storage: Storage, n: number): Promise<FloatArray>;
  /**
   * The global norm sqrt(sum of squares) over the arrays; when maxNorm is not null and
   * maxNorm / (norm + eps) < 1, scales every array by that coefficient. Returns the norm before
   * clipping: known at once on the host, read later from a device.
   */
  clipByGlobalNorm(arrays: readonly NormArray[], maxNorm: number | null, eps: number): Scalar;
  /**
   * A value that is finite exactly when the loss (element 0 of `loss`) and the gradient norm both
   * are: the guard a device step passes to the optimizer (see Kernels.adamUpdate).
   */
  finiteGuard(loss: Storage, norm: Scalar): Scalar;
  /** how many elements of the arrays are NaN or infinite */
  countNonFinite(arrays: readonly NormArray[]): Scalar;
  /** resolves when every queued kernel has run; a device error is thrown here */
  idle(): Promise<void>;
  /** one line for `stitch info` */
  describe(): string;
}

/**
 * The dropout stream: a counter-based hash so that every backend draws the same mask from a
 * (seed, index) pair, with no mask stored between forward and backward.
 * Returns true when element `index` is kept.
 */
export function dropoutKeep(seed: number, index: number, p: number): boolean {
  let x = (Math.imul(index, 0x9e3779b1) + seed) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b) >>> 0;
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35) >>> 0;
  x ^= x >>> 16;
  return (x >>> 8) * (1 / 16777216) >= p;
}
