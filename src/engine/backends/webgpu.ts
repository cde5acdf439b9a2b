/// <reference types="@webgpu/types" />
/**
 * The webgpu backend: every tensor's storage is a device array (`GpuArray`), every kernel a
 * queued WGSL dispatch (webgpu/kernels.ts), and the host sees values only through explicit,
 * asynchronous reads. Works in Node (Dawn, webgpu-node.ts makes it) and in a page
 * (`navigator.gpu`): nothing here imports a Node module.
 *
 * Losing the device (a driver reset, a GPU removed) makes every later read fail with
 * WebGpuDeviceLostError, which the trainer turns into a clean stop at the last checkpoint.
 */
import {
  isHostStorage,
  isWasmArray,
  type Activation, type AdamStep, type AttentionShape, type BinaryKind, type BroadcastLayout, type CopyBlocks,
  type FloatArray, type GemmBatch, type GemmCall, type IndexStorage, type NormArray, type ReduceLayout,
  type Storage, type TensorBackend, type UnaryKind,
} from '../backend.js';
import { captureScalar } from '../scalar-board.js';
import { Scalar } from '../scalar.js';
import { describeAdapter } from '../webgpu/device.js';
import { WebGpuKernels } from '../webgpu/kernels.js';
import { GpuRuntime, type GpuArray } from '../webgpu/runtime.js';

/** The device went away mid-run (driver reset, GPU removed, out of memory on some drivers). */
export class WebGpuDeviceLostError extends Error {
  constructor(reason: string) {
    super(`the WebGPU device was lost: ${reason}`);
    this.name = 'WebGpuDeviceLostError';
  }
}

function device(storage: Storage): GpuArray {
  if (isHostStorage(storage) || isWasmArray(storage)) throw new TypeError('a host array reached the webgpu backend (tensors of two backends mixed)');
  return storage;
}

function deviceOrNull(storage: Storage | null): GpuArray | null {
  return storage === null ? null : device(storage);
}

function deviceIndex(storage: IndexStorage): GpuArray {
  if (isHostStorage(storage) || isWasmArray(storage)) throw new TypeError('host indices reached the webgpu backend');
  return storage;
}

function deviceCall(call: GemmCall<Storage>): GemmCall<GpuArray> {
  return { ...call, a: device(call.a), b: device(call.b), c: device(call.c) };
}

/** arrays whose values stay needed for a few more dispatches (gradient norms used as guards) */
const RECENT_ARRAYS = 16;

export class WebGpuBackend implements TensorBackend {
  readonly name = 'webgpu';
  readonly resident = true;
  readonly kernels: WebGpuKernels;
  readonly runtime: GpuRuntime;
  private lostReason: string | null = null;
  /** recently made one-element results, released once RECENT_ARRAYS newer ones exist (queue order keeps that safe) */
  private readonly recent: GpuArray[] = [];

  constructor(readonly gpuDevice: GPUDevice, readonly adapter: GPUAdapter | null = null, options: { maxWorkgroupsPerDimension?: number } = {}) {
    this.runtime = new GpuRuntime(gpuDevice, options);
    this.kernels = new WebGpuKernels(this.runtime);
    void gpuDevice.lost.then((info) => {
      // destroy() on purpose (tests, shutdown) is not a loss worth reporting
      if (info.reason !== 'destroyed') this.lostReason = info.message === '' ? String(info.reason) : info.message;
    });
  }

  /** the adapter's name, or why the device is gone */
  describe(): string {
    if (this.lostReason !== null) return `device lost (${this.lostReason})`;
    return this.adapter === null ? 'WebGPU device' : describeAdapter(this.adapter)[0] ?? 'WebGPU device';
  }

  /** true when the adapter is a software one (SwiftShader, a fallback adapter): correct, but slower than the CPU backends */
  get software(): boolean {
    if (this.adapter === null) return false;
    const { info } = this.adapter;
    return info.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe/i.test(`${info.vendor} ${info.architecture} ${info.description}`);
  }

  threads(): number {
    return 1;
  }

  setThreads(): void {
    // the GPU's parallelism is not set in threads
  }

  /**
   * Ends the device as a driver reset would (fault injection for tests: STITCH_WEBGPU_LOSE_DEVICE_AFTER_READS,
   * see webgpu-node.ts); every later read throws WebGpuDeviceLostError.
   */
  loseDevice(reason: string): void {
    this.lostReason ??= reason;
    this.gpuDevice.destroy();
  }

  /** reads done so far (the fault-injection hook counts them) */
  reads = 0;
  /** called before each read with the count (the fault-injection hook) */
  onRead: ((reads: number) => void) | undefined;

  private checkAlive(): void {
    if (this.lostReason !== null) throw new WebGpuDeviceLostError(this.lostReason);
  }

  private keep(array: GpuArray): void {
    this.recent.push(array);
    if (this.recent.length > RECENT_ARRAYS) this.runtime.release(this.recent.shift()!);
  }

  allocate(n: number): Storage {
    return this.runtime.allocate(n);
  }

  release(storage: Storage): void {
    this.runtime.release(device(storage));
  }

  upload(data: Float32Array): Storage {
    return this.runtime.upload(data);
  }

  uploadBatch(arrays: readonly (Float32Array | Int32Array)[]): (Storage | IndexStorage)[] {
    return this.runtime.uploadBatch(arrays);
  }

  uploadIndices(data: Int32Array): IndexStorage {
    return this.runtime.upload(data);
  }

  write(storage: Storage, data: FloatArray): void {
    this.runtime.write(device(storage), data instanceof Float32Array ? data : Float32Array.from(data));
  }

  async read(storage: Storage, n: number): Promise<FloatArray> {
    this.checkAlive();
    this.reads += 1;
    this.onRead?.(this.reads);
    this.checkAlive();
    try {
      return await this.runtime.read(device(storage), n);
    } catch (error) {
      this.checkAlive();
      throw error;
    }
  }

  async idle(): Promise<void> {
    this.checkAlive();
    await this.runtime.idle();
    this.checkAlive();
  }

  clipByGlobalNorm(arrays: readonly NormArray[], maxNorm: number | null, eps: number): Scalar {
    const result = this.kernels.clipGradNorm(arrays.map(({ array, n }) => ({ array: device(array), n })), maxNorm, eps);
    this.keep(result);
    return captureScalar(this, result, 0);
  }

  finiteGuard(loss: Storage, norm: Scalar): Scalar {
    if (norm.storage === undefined) throw new TypeError('finiteGuard: the norm is not a device value');
    const out = this.runtime.allocate(1);
    this.kernels.finiteGuard(device(loss), device(norm.storage), out);
    this.keep(out);
    return Scalar.later(async () => (await this.read(out, 1))[0]!, out);
  }

  countNonFinite(arrays: readonly NormArray[]): Scalar {
    const out = this.runtime.allocate(1);
    this.kernels.nonFiniteCount(arrays.map(({ array, n }) => ({ array: device(array), n })), out);
    this.keep(out);
    return captureScalar(this, out, 0);
  }

  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: Storage, lda: number, b: Storage, ldb: number, beta: number, c: Storage, ldc: number, batch?: GemmBatch,
  ): void {
    this.kernels.gemm(transA, transB, m, n, k, alpha, device(a), lda, device(b), ldb, beta, device(c), ldc, batch);
  }

  gemmPair(first: GemmCall<Storage>, second: GemmCall<Storage>): void {
    this.kernels.gemmPair(deviceCall(first), deviceCall(second));
  }

  addBiasRows(x: Storage, bias: Storage, rows: number, cols: number): void {
    this.kernels.addBiasRows(device(x), device(bias), rows, cols);
  }

  sumRows(x: Storage, rows: number, cols: number, out: Storage, accumulate: boolean): void {
    this.kernels.sumRows(device(x), rows, cols, device(out), accumulate);
  }

  add(a: Storage, b: Storage, out: Storage, n: number): void {
    this.kernels.add(device(a), device(b), device(out), n);
  }

  axpy(alpha: number, x: Storage, y: Storage, n: number): void {
    this.kernels.axpy(alpha, device(x), device(y), n);
  }

  scale(x: Storage, alpha: number, n: number): void {
    this.kernels.scale(device(x), alpha, n);
  }

  activation(kind: Activation, x: Storage, out: Storage, n: number): void {
    this.kernels.activation(kind, device(x), device(out), n);
  }

  activationBackward(kind: Activation, x: Storage, gradOut: Storage, gradX: Storage, n: number, accumulate: boolean): void {
    this.kernels.activationBackward(kind, device(x), device(gradOut), device(gradX), n, accumulate);
  }

  biasActivation(kind: Activation, x: Storage, bias: Storage, out: Storage, rows: number, cols: number): void {
    this.kernels.biasActivation(kind, device(x), device(bias), device(out), rows, cols);
  }

  activationBackwardBias(
    kind: Activation, x: Storage, gradOut: Storage, gradX: Storage, biasGrad: Storage, rows: number, cols: number, accumulate: boolean,
  ): void {
    this.kernels.activationBackwardBias(kind, device(x), device(gradOut), device(gradX), device(biasGrad), rows, cols, accumulate);
  }

  dropout(x: Storage, out: Storage, n: number, p: number, seed: number): void {
    this.kernels.dropout(device(x), device(out), n, p, seed);
  }

  dropoutBackward(gradOut: Storage, gradX: Storage, n: number, p: number, seed: number, accumulate: boolean): void {
    this.kernels.dropoutBackward(device(gradOut), device(gradX), n, p, seed, accumulate);
  }

  layerNorm(
    x: Storage, gamma: Storage, beta: Storage, out: Storage, mean: Storage, rstd: Storage, rows: number, cols: number, eps: number,
  ): void {
    this.kernels.layerNorm(device(x), device(gamma), device(beta), device(out), device(mean), device(rstd), rows, cols, eps);
  }

  layerNormBackward(
    x: Storage, gamma: Storage, mean: Storage, rstd: Storage, gradOut: Storage,
    gradX: Storage, gradGamma: Storage, gradBeta: Storage, rows: number, cols: number, accumulate: boolean,
  ): void {
    this.kernels.layerNormBackward(
      device(x), device(gamma), device(mean), device(rstd), device(gradOut), device(gradX), device(gradGamma), device(gradBeta), rows, cols, accumulate,
    );
  }

  attention(qkv: Storage, keyMask: Storage | null, probs: Storage, out: Storage, shape: AttentionShape): void {
    this.kernels.attention(device(qkv), deviceOrNull(keyMask), device(probs), device(out), shape);
  }

  attentionBackward(qkv: Storage, probs: Storage, gradOut: Storage, gradQkv: Storage, shape: AttentionShape, accumulate: boolean): void {
    this.kernels.attentionBackward(device(qkv), device(probs), device(gradOut), device(gradQkv), shape, accumulate);
  }

  gatherRows(table: Storage, index: IndexStorage, out: Storage, cols: number): void {
    const rows = index.length;
    this.kernels.gatherRows(device(table), deviceIndex(index), device(out), rows, cols);
  }

  scatterAddRows(gradOut: Storage, index: IndexStorage, gradTable: Storage, cols: number): void {
    const rows = index.length;
    this.kernels.scatterAddRows(device(gradOut), deviceIndex(index), device(gradTable), rows, cols);
  }

  fill(x: Storage, value: number, n: number): void {
    this.kernels.fill(device(x), value, n);
  }

  copyBlocks(src: Storage, dst: Storage, blocks: CopyBlocks, accumulate: boolean): void {
    this.kernels.copyBlocks(device(src), device(dst), blocks, accumulate);
  }

  unary(kind: UnaryKind, x: Storage, out: Storage, n: number, a: number, b: number): void {
    this.kernels.unary(kind, device(x), device(out), n, a, b);
  }

  unaryBackward(kind: UnaryKind, x: Storage, y: Storage, gradOut: Storage, gradX: Storage, n: number, a: number, b: number, accumulate: boolean): void {
    this.kernels.unaryBackward(kind, device(x), device(y), device(gradOut), device(gradX), n, a, b, accumulate);
  }

  binary(kind: BinaryKind, a: Storage, b: Storage, out: Storage, layout: BroadcastLayout): void {
    this.kernels.binary(kind, device(a), device(b), device(out), layout);
  }

  binaryBackward(
    kind: BinaryKind, a: Storage, b: Storage, gradOut: Storage, gradInput: Storage, input: 'a' | 'b', layout: BroadcastLayout, accumulate: boolean,
  ): void {
    this.kernels.binaryBackward(kind, device(a), device(b), device(gradOut), device(gradInput), input, layout, accumulate);
  }

  reduceTo(x: Storage, out: Storage, layout: ReduceLayout, accumulate: boolean): void {
    this.kernels.reduceTo(device(x), device(out), layout, accumulate);
  }

  expand(x: Storage, out: Storage, layout: ReduceLayout, accumulate: boolean): void {
    this.kernels.expand(device(x), device(out), layout, accumulate);
  }

  mseRows(pred: Storage, target: Storage, weights: Storage | null, out: Storage, rows: number, cols: number, normalizer: number): void {
    this.kernels.mseRows(device(pred), device(target), deviceOrNull(weights), device(out), rows, cols, normalizer);
  }

  mseRowsBackward(
    pred: Storage, target: Storage, weights: Storage | null, gradOut: Storage, gradInput: Storage,
    rows: number, cols: number, normalizer: number, sign: 1 | -1, accumulate: boolean,
  ): void {
    this.kernels.mseRowsBackward(device(pred), device(target), deviceOrNull(weights), device(gradOut), device(gradInput), rows, cols, normalizer, sign, accumulate);
  }

  adamUpdate(param: Storage, grad: Storage, m: Storage, v: Storage, n: number, step: AdamStep, guard?: Storage): void {
    this.kernels.adamUpdate(device(param), device(grad), device(m), device(v), n, step, guard === undefined ? undefined : device(guard));
  }

  lambUpdate(param: Storage, grad: Storage, m: Storage, v: Storage, update: Storage, n: number, step: AdamStep, guard?: Storage): void {
    this.kernels.lambUpdate(device(param), device(grad), device(m), device(v), device(update), n, step, guard === undefined ? undefined : device(guard));
  }
}
