/**
 * The CPU backends as tensors see them: storage is a host typed array, an upload borrows the
 * caller's array, a read copies, and every kernel call goes straight to the wrapped `Backend`
 * (js, native or wasm) after checking that its arrays are host arrays; the generic kernels run
 * the one host implementation all CPU backends share (generic.ts). The wasm backend's training
 * variant (wasm-resident.ts) subclasses it: the same calls, on views of the module's memory.
 */
import {
  isHostStorage,
  type Activation, type AdamStep, type AttentionShape, type Backend, type BinaryKind, type BroadcastLayout,
  type CopyBlocks, type FloatArray, type GemmBatch, type GemmCall, type IndexStorage, type NormArray,
  type ReduceLayout, type Storage, type TensorBackend, type UnaryKind,
} from '../backend.js';
import { Scalar } from '../scalar.js';
import { hostGenericKernels } from './generic.js';

export class HostTensorBackend implements TensorBackend {
  readonly resident: boolean = false;

  constructor(readonly kernels: Backend, private readonly description: () => string = () => '') {}

  /** the typed array the kernels run on (here the storage itself; a subclass may keep it elsewhere) */
  protected array(storage: Storage): FloatArray {
    if (!isHostStorage(storage)) throw new TypeError('a device array reached a CPU backend (tensors of two backends mixed)');
    return storage;
  }

  private arrayOrNull(storage: Storage | null): FloatArray | null {
    return storage === null ? null : this.array(storage);
  }

  protected indices(storage: IndexStorage): Int32Array {
    if (!(storage instanceof Int32Array)) throw new TypeError('device indices reached a CPU backend (tensors of two backends mixed)');
    return storage;
  }

  private call(call: GemmCall<Storage>): GemmCall {
    return { ...call, a: this.array(call.a), b: this.array(call.b), c: this.array(call.c) };
  }

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

  release(_storage: Storage): void {
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
    this.array(storage).set(data);
  }

  read(storage: Storage, n: number): Promise<FloatArray> {
    return Promise.resolve(this.array(storage).slice(0, n));
  }

  idle(): Promise<void> {
    return Promise.resolve();
  }

  clipByGlobalNorm(arrays: readonly NormArray[], maxNorm: number | null, eps: number): Scalar {
    let total = 0;
    for (const { array, n } of arrays) total += this.kernels.sumSquares(this.array(array), n);
    const norm = Math.sqrt(total);
    if (maxNorm !== null) {
      const coefficient = maxNorm / (norm + eps);
      if (coefficient < 1) for (const { array, n } of arrays) this.kernels.scale(this.array(array), coefficient, n);
    }
    return Scalar.of(norm);
  }

  finiteGuard(loss: Storage, norm: Scalar): Scalar {
    return Scalar.of(Number.isFinite(this.array(loss)[0]) && Number.isFinite(norm.now) ? 0 : Number.NaN);
  }

  countNonFinite(arrays: readonly NormArray[]): Scalar {
    let count = 0;
    for (const { array, n } of arrays) {
      const data = this.array(array);
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
    this.kernels.gemm(transA, transB, m, n, k, alpha, this.array(a), lda, this.array(b), ldb, beta, this.array(c), ldc, batch);
  }

  gemmPair(first: GemmCall<Storage>, second: GemmCall<Storage>): void {
    this.kernels.gemmPair(this.call(first), this.call(second));
  }

  addBiasRows(x: Storage, bias: Storage, rows: number, cols: number): void {
    this.kernels.addBiasRows(this.array(x), this.array(bias), rows, cols);
  }

  sumRows(x: Storage, rows: number, cols: number, out: Storage, accumulate: boolean): void {
    this.kernels.sumRows(this.array(x), rows, cols, this.array(out), accumulate);
  }

  add(a: Storage, b: Storage, out: Storage, n: number): void {
    this.kernels.add(this.array(a), this.array(b), this.array(out), n);
  }

  axpy(alpha: number, x: Storage, y: Storage, n: number): void {
    this.kernels.axpy(alpha, this.array(x), this.array(y), n);
  }

  scale(x: Storage, alpha: number, n: number): void {
    this.kernels.scale(this.array(x), alpha, n);
  }

  activation(kind: Activation, x: Storage, out: Storage, n: number): void {
    this.kernels.activation(kind, this.array(x), this.array(out), n);
  }

  activationBackward(kind: Activation, x: Storage, gradOut: Storage, gradX: Storage, n: number, accumulate: boolean): void {
    this.kernels.activationBackward(kind, this.array(x), this.array(gradOut), this.array(gradX), n, accumulate);
  }

  biasActivation(kind: Activation, x: Storage, bias: Storage, out: Storage, rows: number, cols: number): void {
    this.kernels.biasActivation(kind, this.array(x), this.array(bias), this.array(out), rows, cols);
  }

  activationBackwardBias(
    kind: Activation, x: Storage, gradOut: Storage, gradX: Storage, biasGrad: Storage, rows: number, cols: number, accumulate: boolean,
  ): void {
    this.kernels.activationBackwardBias(kind, this.array(x), this.array(gradOut), this.array(gradX), this.array(biasGrad), rows, cols, accumulate);
  }

  dropout(x: Storage, out: Storage, n: number, p: number, seed: number): void {
    this.kernels.dropout(this.array(x), this.array(out), n, p, seed);
  }

  dropoutBackward(gradOut: Storage, gradX: Storage, n: number, p: number, seed: number, accumulate: boolean): void {
    this.kernels.dropoutBackward(this.array(gradOut), this.array(gradX), n, p, seed, accumulate);
  }

  layerNorm(
    x: Storage, gamma: Storage, beta: Storage, out: Storage, mean: Storage, rstd: Storage, rows: number, cols: number, eps: number,
  ): void {
    this.kernels.layerNorm(this.array(x), this.array(gamma), this.array(beta), this.array(out), this.array(mean), this.array(rstd), rows, cols, eps);
  }

  layerNormBackward(
    x: Storage, gamma: Storage, mean: Storage, rstd: Storage, gradOut: Storage,
    gradX: Storage, gradGamma: Storage, gradBeta: Storage, rows: number, cols: number, accumulate: boolean,
  ): void {
    this.kernels.layerNormBackward(
      this.array(x), this.array(gamma), this.array(mean), this.array(rstd), this.array(gradOut), this.array(gradX), this.array(gradGamma), this.array(gradBeta), rows, cols, accumulate,
    );
  }

  attention(qkv: Storage, keyMask: Storage | null, probs: Storage, out: Storage, shape: AttentionShape): void {
    this.kernels.attention(this.array(qkv), this.arrayOrNull(keyMask), this.array(probs), this.array(out), shape);
  }

  attentionBackward(qkv: Storage, probs: Storage, gradOut: Storage, gradQkv: Storage, shape: AttentionShape, accumulate: boolean): void {
    this.kernels.attentionBackward(this.array(qkv), this.array(probs), this.array(gradOut), this.array(gradQkv), shape, accumulate);
  }

  gatherRows(table: Storage, index: IndexStorage, out: Storage, cols: number): void {
    this.kernels.gatherRows(this.array(table), this.indices(index), this.array(out), cols);
  }

  scatterAddRows(gradOut: Storage, index: IndexStorage, gradTable: Storage, cols: number): void {
    this.kernels.scatterAddRows(this.array(gradOut), this.indices(index), this.array(gradTable), cols);
  }

  fill(x: Storage, value: number, n: number): void {
    hostGenericKernels.fill(this.array(x), value, n);
  }

  copyBlocks(src: Storage, dst: Storage, blocks: CopyBlocks, accumulate: boolean): void {
    hostGenericKernels.copyBlocks(this.array(src), this.array(dst), blocks, accumulate);
  }

  unary(kind: UnaryKind, x: Storage, out: Storage, n: number, a: number, b: number): void {
    hostGenericKernels.unary(kind, this.array(x), this.array(out), n, a, b);
  }

  unaryBackward(kind: UnaryKind, x: Storage, y: Storage, gradOut: Storage, gradX: Storage, n: number, a: number, b: number, accumulate: boolean): void {
    hostGenericKernels.unaryBackward(kind, this.array(x), this.array(y), this.array(gradOut), this.array(gradX), n, a, b, accumulate);
  }

  binary(kind: BinaryKind, a: Storage, b: Storage, out: Storage, layout: BroadcastLayout): void {
    hostGenericKernels.binary(kind, this.array(a), this.array(b), this.array(out), layout);
  }

  binaryBackward(
    kind: BinaryKind, a: Storage, b: Storage, gradOut: Storage, gradInput: Storage, input: 'a' | 'b', layout: BroadcastLayout, accumulate: boolean,
  ): void {
    hostGenericKernels.binaryBackward(kind, this.array(a), this.array(b), this.array(gradOut), this.array(gradInput), input, layout, accumulate);
  }

  reduceTo(x: Storage, out: Storage, layout: ReduceLayout, accumulate: boolean): void {
    hostGenericKernels.reduceTo(this.array(x), this.array(out), layout, accumulate);
  }

  expand(x: Storage, out: Storage, layout: ReduceLayout, accumulate: boolean): void {
    hostGenericKernels.expand(this.array(x), this.array(out), layout, accumulate);
  }

  mseRows(pred: Storage, target: Storage, weights: Storage | null, out: Storage, rows: number, cols: number, normalizer: number): void {
    hostGenericKernels.mseRows(this.array(pred), this.array(target), this.arrayOrNull(weights), this.array(out), rows, cols, normalizer);
  }

  mseRowsBackward(
    pred: Storage, target: Storage, weights: Storage | null, gradOut: Storage, gradInput: Storage,
    rows: number, cols: number, normalizer: number, sign: 1 | -1, accumulate: boolean,
  ): void {
    hostGenericKernels.mseRowsBackward(this.array(pred), this.array(target), this.arrayOrNull(weights), this.array(gradOut), this.array(gradInput), rows, cols, normalizer, sign, accumulate);
  }

  adamUpdate(param: Storage, grad: Storage, m: Storage, v: Storage, n: number, step: AdamStep, guard?: Storage): void {
    if (guard !== undefined && !Number.isFinite(this.array(guard)[0])) return;
    this.kernels.adamUpdate(this.array(param), this.array(grad), this.array(m), this.array(v), n, step);
  }

  lambUpdate(param: Storage, grad: Storage, m: Storage, v: Storage, update: Storage, n: number, step: AdamStep, guard?: Storage): void {
    if (guard !== undefined && !Number.isFinite(this.array(guard)[0])) return;
    this.kernels.lambUpdate(this.array(param), this.array(grad), this.array(m), this.array(v), this.array(update), n, step);
  }
}
