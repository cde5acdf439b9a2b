/**
 * The CPU backends as tensors see them: storage is a host typed array, an upload borrows the
 * caller's array, a read copies, and every kernel call goes straight to the wrapped `Backend`
 * (js, native or wasm) after checking that its arrays are host arrays; the generic kernels run
 * the one host implementation all CPU backends share (generic.ts).
 */
import {
  isHostStorage,
  type Activation, type AdamStep, type AttentionShape, type Backend, type BinaryKind, type BroadcastLayout,
  type CopyBlocks, type FloatArray, type GemmBatch, type GemmCall, type IndexStorage, type NormArray,
  type ReduceLayout, type Storage, type TensorBackend, type UnaryKind,
} from '../backend.js';
import { Scalar } from '../scalar.js';
import { hostGenericKernels } from './generic.js';

function host(storage: Storage): FloatArray {
  if (!isHostStorage(storage)) throw new TypeError('a device array reached a CPU backend (tensors of two backends mixed)');
  return storage;
}

function hostOrNull(storage: Storage | null): FloatArray | null {
  return storage === null ? null : host(storage);
}

function hostIndex(storage: IndexStorage): Int32Array {
  if (!(storage instanceof Int32Array)) throw new TypeError('device indices reached a CPU backend (tensors of two backends mixed)');
  return storage;
}

function hostCall(call: GemmCall<Storage>): GemmCall {
  return { ...call, a: host(call.a), b: host(call.b), c: host(call.c) };
}

export class HostTensorBackend implements TensorBackend {
  readonly resident = false;

  constructor(readonly kernels: Backend, private readonly description: () => string = () => '') {}

  get name(): Backend['name'] {
    return this.kernels.name;
  }

  threads(): number {
    return this.kernels.threads();
  }

  setThreads(n: number): void {
    this.kernels.setThreads(n);
  }

  describe(): string {
    return this.description();
  }

  allocate(n: number): Storage {
    return new Float32Array(n);
  }

  release(): void {
    // host arrays are pooled by the tensor layer (bufferPool) or left to the garbage collector
  }

  upload(data: Float32Array): Storage {
    return data;
  }

  uploadBatch(arrays: readonly (Float32Array | Int32Array)[]): (Storage | IndexStorage)[] {
    return [...arrays];
  }

  uploadIndices(data: Int32Array): IndexStorage {
    return data;
  }

  write(storage: Storage, data: FloatArray): void {
    host(storage).set(data);
  }

  read(storage: Storage, n: number): Promise<FloatArray> {
    return Promise.resolve(host(storage).slice(0, n));
  }

  idle(): Promise<void> {
    return Promise.resolve();
  }

  clipByGlobalNorm(arrays: readonly NormArray[], maxNorm: number | null, eps: number): Scalar {
    let total = 0;
    for (const { array, n } of arrays) total += this.kernels.sumSquares(host(array), n);
    const norm = Math.sqrt(total);
    if (maxNorm !== null) {
      const coefficient = maxNorm / (norm + eps);
      if (coefficient < 1) for (const { array, n } of arrays) this.kernels.scale(host(array), coefficient, n);
    }
    return Scalar.of(norm);
  }

  finiteGuard(loss: Storage, norm: Scalar): Scalar {
    return Scalar.of(Number.isFinite(host(loss)[0]) && Number.isFinite(norm.now) ? 0 : Number.NaN);
  }

  countNonFinite(arrays: readonly NormArray[]): Scalar {
    let count = 0;
    for (const { array, n } of arrays) {
      const data = host(array);
      // one vectorised pass: a sum of squares (accumulated in double) is finite exactly when every float32 value is
      if (data instanceof Float32Array && Number.isFinite(this.kernels.sumSquares(data, n))) continue;
      // x - x is 0 for every finite x and NaN for NaN and ±Infinity
      for (let i = 0; i < n; i++) if (data[i]! - data[i]! !== 0) count += 1;
    }
    return Scalar.of(count);
  }

  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: Storage, lda: number, b: Storage, ldb: number, beta: number, c: Storage, ldc: number, batch?: GemmBatch,
  ): void {
    this.kernels.gemm(transA, transB, m, n, k, alpha, host(a), lda, host(b), ldb, beta, host(c), ldc, batch);
  }

  gemmPair(first: GemmCall<Storage>, second: GemmCall<Storage>): void {
    this.kernels.gemmPair(hostCall(first), hostCall(second));
  }

  addBiasRows(x: Storage, bias: Storage, rows: number, cols: number): void {
    this.kernels.addBiasRows(host(x), host(bias), rows, cols);
  }

  sumRows(x: Storage, rows: number, cols: number, out: Storage, accumulate: boolean): void {
    this.kernels.sumRows(host(x), rows, cols, host(out), accumulate);
  }

  add(a: Storage, b: Storage, out: Storage, n: number): void {
    this.kernels.add(host(a), host(b), host(out), n);
  }

  axpy(alpha: number, x: Storage, y: Storage, n: number): void {
    this.kernels.axpy(alpha, host(x), host(y), n);
  }

  scale(x: Storage, alpha: number, n: number): void {
    this.kernels.scale(host(x), alpha, n);
  }

  activation(kind: Activation, x: Storage, out: Storage, n: number): void {
    this.kernels.activation(kind, host(x), host(out), n);
  }

  activationBackward(kind: Activation, x: Storage, gradOut: Storage, gradX: Storage, n: number, accumulate: boolean): void {
    this.kernels.activationBackward(kind, host(x), host(gradOut), host(gradX), n, accumulate);
  }

  biasActivation(kind: Activation, x: Storage, bias: Storage, out: Storage, rows: number, cols: number): void {
    this.kernels.biasActivation(kind, host(x), host(bias), host(out), rows, cols);
  }

  activationBackwardBias(
    kind: Activation, x: Storage, gradOut: Storage, gradX: Storage, biasGrad: Storage, rows: number, cols: number, accumulate: boolean,
  ): void {
    this.kernels.activationBackwardBias(kind, host(x), host(gradOut), host(gradX), host(biasGrad), rows, cols, accumulate);
  }

  dropout(x: Storage, out: Storage, n: number, p: number, seed: number): void {
    this.kernels.dropout(host(x), host(out), n, p, seed);
  }

  dropoutBackward(gradOut: Storage, gradX: Storage, n: number, p: number, seed: number, accumulate: boolean): void {
    this.kernels.dropoutBackward(host(gradOut), host(gradX), n, p, seed, accumulate);
  }

  layerNorm(
    x: Storage, gamma: Storage, beta: Storage, out: Storage, mean: Storage, rstd: Storage, rows: number, cols: number, eps: number,
  ): void {
    this.kernels.layerNorm(host(x), host(gamma), host(beta), host(out), host(mean), host(rstd), rows, cols, eps);
  }

  layerNormBackward(
    x: Storage, gamma: Storage, mean: Storage, rstd: Storage, gradOut: Storage,
    gradX: Storage, gradGamma: Storage, gradBeta: Storage, rows: number, cols: number, accumulate: boolean,
  ): void {
    this.kernels.layerNormBackward(
      host(x), host(gamma), host(mean), host(rstd), host(gradOut), host(gradX), host(gradGamma), host(gradBeta), rows, cols, accumulate,
    );
  }

  attention(qkv: Storage, keyMask: Storage | null, probs: Storage, out: Storage, shape: AttentionShape): void {
    this.kernels.attention(host(qkv), hostOrNull(keyMask), host(probs), host(out), shape);
  }

  attentionBackward(qkv: Storage, probs: Storage, gradOut: Storage, gradQkv: Storage, shape: AttentionShape, accumulate: boolean): void {
    this.kernels.attentionBackward(host(qkv), host(probs), host(gradOut), host(gradQkv), shape, accumulate);
  }

  gatherRows(table: Storage, index: IndexStorage, out: Storage, cols: number): void {
    this.kernels.gatherRows(host(table), hostIndex(index), host(out), cols);
  }

  scatterAddRows(gradOut: Storage, index: IndexStorage, gradTable: Storage, cols: number): void {
    this.kernels.scatterAddRows(host(gradOut), hostIndex(index), host(gradTable), cols);
  }

  fill(x: Storage, value: number, n: number): void {
    hostGenericKernels.fill(host(x), value, n);
  }

  copyBlocks(src: Storage, dst: Storage, blocks: CopyBlocks, accumulate: boolean): void {
    hostGenericKernels.copyBlocks(host(src), host(dst), blocks, accumulate);
  }

  unary(kind: UnaryKind, x: Storage, out: Storage, n: number, a: number, b: number): void {
    hostGenericKernels.unary(kind, host(x), host(out), n, a, b);
  }

  unaryBackward(kind: UnaryKind, x: Storage, y: Storage, gradOut: Storage, gradX: Storage, n: number, a: number, b: number, accumulate: boolean): void {
    hostGenericKernels.unaryBackward(kind, host(x), host(y), host(gradOut), host(gradX), n, a, b, accumulate);
  }

  binary(kind: BinaryKind, a: Storage, b: Storage, out: Storage, layout: BroadcastLayout): void {
    hostGenericKernels.binary(kind, host(a), host(b), host(out), layout);
  }

  binaryBackward(
    kind: BinaryKind, a: Storage, b: Storage, gradOut: Storage, gradInput: Storage, input: 'a' | 'b', layout: BroadcastLayout, accumulate: boolean,
  ): void {
    hostGenericKernels.binaryBackward(kind, host(a), host(b), host(gradOut), host(gradInput), input, layout, accumulate);
  }

  reduceTo(x: Storage, out: Storage, layout: ReduceLayout, accumulate: boolean): void {
    hostGenericKernels.reduceTo(host(x), host(out), layout, accumulate);
  }

  expand(x: Storage, out: Storage, layout: ReduceLayout, accumulate: boolean): void {
    hostGenericKernels.expand(host(x), host(out), layout, accumulate);
  }

  mseRows(pred: Storage, target: Storage, weights: Storage | null, out: Storage, rows: number, cols: number, normalizer: number): void {
    hostGenericKernels.mseRows(host(pred), host(target), hostOrNull(weights), host(out), rows, cols, normalizer);
  }

  mseRowsBackward(
    pred: Storage, target: Storage, weights: Storage | null, gradOut: Storage, gradInput: Storage,
    rows: number, cols: number, normalizer: number, sign: 1 | -1, accumulate: boolean,
  ): void {
    hostGenericKernels.mseRowsBackward(host(pred), host(target), hostOrNull(weights), host(gradOut), host(gradInput), rows, cols, normalizer, sign, accumulate);
  }

  adamUpdate(param: Storage, grad: Storage, m: Storage, v: Storage, n: number, step: AdamStep, guard?: Storage): void {
    if (guard !== undefined && !Number.isFinite(host(guard)[0])) return;
    this.kernels.adamUpdate(host(param), host(grad), host(m), host(v), n, step);
  }

  lambUpdate(param: Storage, grad: Storage, m: Storage, v: Storage, update: Storage, n: number, step: AdamStep, guard?: Storage): void {
    if (guard !== undefined && !Number.isFinite(host(guard)[0])) return;
    this.kernels.lambUpdate(host(param), host(grad), host(m), host(v), host(update), n, step);
  }
}
