/**
 * The native backend: a Node-API addon (native/napi/, over the plain-C kernels of native/kernels/)
 * on OpenBLAS sgemm with our own threaded kernels. This file only adapts the addon's flat calling
 * convention to `Backend`.
 * float32 only: the float64 path exists for gradient checks on the TypeScript backend.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Activation, AdamStep, AttentionShape, Backend, FloatArray, GemmBatch, GemmCall } from '../backend.js';

/** The addon's exports, one to one with the export table of native/napi/addon.c. */
export interface NativeAddon {
  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: Float32Array, lda: number, b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number,
    count: number, strideA: number, strideB: number, strideC: number,
  ): void;
  gemmPair(
    transA1: boolean, transB1: boolean, m1: number, n1: number, k1: number, alpha1: number,
    a1: Float32Array, lda1: number, b1: Float32Array, ldb1: number, beta1: number, c1: Float32Array, ldc1: number,
    transA2: boolean, transB2: boolean, m2: number, n2: number, k2: number, alpha2: number,
    a2: Float32Array, lda2: number, b2: Float32Array, ldb2: number, beta2: number, c2: Float32Array, ldc2: number,
  ): void;
  addBiasRows(x: Float32Array, bias: Float32Array, rows: number, cols: number): void;
  sumRows(x: Float32Array, rows: number, cols: number, out: Float32Array, accumulate: boolean): void;
  add(a: Float32Array, b: Float32Array, out: Float32Array, n: number): void;
  axpy(alpha: number, x: Float32Array, y: Float32Array, n: number): void;
  scale(x: Float32Array, alpha: number, n: number): void;
  sumSquares(x: Float32Array, n: number): number;
  activation(kind: number, x: Float32Array, out: Float32Array, n: number): void;
  activationBackward(kind: number, x: Float32Array, gradOut: Float32Array, gradX: Float32Array, n: number, accumulate: boolean): void;
  biasActivation(kind: number, x: Float32Array, bias: Float32Array, out: Float32Array, rows: number, cols: number): void;
  activationBackwardBias(
    kind: number, x: Float32Array, gradOut: Float32Array, gradX: Float32Array, biasGrad: Float32Array,
    rows: number, cols: number, accumulate: boolean,
  ): void;
  dropout(x: Float32Array, out: Float32Array, n: number, p: number, seed: number): void;
  dropoutBackward(gradOut: Float32Array, gradX: Float32Array, n: number, p: number, seed: number, accumulate: boolean): void;
  layerNorm(
    x: Float32Array, gamma: Float32Array, beta: Float32Array, out: Float32Array,
    mean: Float32Array, rstd: Float32Array, rows: number, cols: number, eps: number,
  ): void;
  layerNormBackward(
    x: Float32Array, gamma: Float32Array, mean: Float32Array, rstd: Float32Array, gradOut: Float32Array,
    gradX: Float32Array, gradGamma: Float32Array, gradBeta: Float32Array, rows: number, cols: number, accumulate: boolean,
  ): void;
  attention(
    qkv: Float32Array, keyMask: Float32Array | null, probs: Float32Array, out: Float32Array,
    batch: number, tokens: number, heads: number, headDim: number, causal: boolean, dropout: number, seed: number,
  ): void;
  attentionBackward(
    qkv: Float32Array, probs: Float32Array, gradOut: Float32Array, gradQkv: Float32Array,
    batch: number, tokens: number, heads: number, headDim: number, causal: boolean, dropout: number, seed: number,
    accumulate: boolean,
  ): void;
  gatherRows(table: Float32Array, index: Int32Array, out: Float32Array, cols: number): void;
  scatterAddRows(gradOut: Float32Array, index: Int32Array, gradTable: Float32Array, cols: number): void;
  adamUpdate(
    param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, decoupled: boolean,
    biasCorrection1: number, biasCorrection2: number,
  ): void;
  lambUpdate(
    param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, update: Float32Array, n: number,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number,
    biasCorrection1: number, biasCorrection2: number,
  ): void;
  setThreads(n: number): void;
  threads(): number;
  /** which BLAS and core type were loaded, for `stitch info` and benchmarks */
  blasInfo(): string;
}

export const ACTIVATION_CODES: Record<Activation, number> = {
  relu: 0,
  gelu_tanh: 1,
  gelu_erf: 2,
  tanh: 3,
  mish: 4,
};

function f32(x: FloatArray, what: string): Float32Array {
  if (!(x instanceof Float32Array)) throw new TypeError(`native backend: ${what} must be a Float32Array (got ${x.constructor.name})`);
  return x;
}

/**
 * OpenBLAS 0.3.21 mis-detects some AVX-512 CPUs (as "Prescott") and then runs 4x slower.
 * The core type is read once, when the library loads, so it must be set before the addon is.
 */
export function chooseOpenBlasCoreType(cpuFlags: ReadonlySet<string>): string | undefined {
  if (cpuFlags.has('avx512f') && cpuFlags.has('avx512bw') && cpuFlags.has('avx512vl')) return 'SkylakeX';
  if (cpuFlags.has('avx2') && cpuFlags.has('fma')) return 'Haswell';
  return undefined;
}

function cpuFlags(): Set<string> {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const line = info.split('\n').find((l) => l.startsWith('flags'));
    return new Set(line ? line.slice(line.indexOf(':') + 1).trim().split(/\s+/) : []);
  } catch {
    return new Set();
  }
}

/** a file of this package: compiled code lives in dist/src/engine/backends, four levels below its root */
export function packageFile(...parts: string[]): string {
  return join(dirname(fileURLToPath(import.meta.url)), '../../../..', ...parts);
}

/**
 * The bytes of a file, for the WebAssembly backend's Node loader (wasm-node.ts), which reads
 * through here so that this file stays the engine's only importer of Node built-ins.
 */
export function readFileBytes(path: string, what: string): Uint8Array {
  if (!existsSync(path)) throw new Error(`${what} missing (${path})`);
  return readFileSync(path);
}

/** build/Release/stitch_native.node of this package, or STITCH_NATIVE_ADDON when set */
export function addonPath(): string {
  const override = process.env.STITCH_NATIVE_ADDON;
  if (override !== undefined && override !== '') return override;
  return packageFile('build', 'Release', 'stitch_native.node');
}

export function loadNativeAddon(): NativeAddon {
  if (process.env.OPENBLAS_CORETYPE === undefined) {
    const core = chooseOpenBlasCoreType(cpuFlags());
    if (core !== undefined) process.env.OPENBLAS_CORETYPE = core;
  }
  // OpenMP reads these once, when the addon loads. Workers that spin without bound after a kernel
  // steal the core OpenBLAS's own worker needs for the next GEMM (10x slower kernels on 2 cores),
  // while workers that sleep at once pay a wake-up per kernel; a short spin (20k iterations, tens
  // of microseconds) made the DT step about 10% faster than sleeping (docs/performance.md).
  if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) {
    process.env.OMP_WAIT_POLICY = 'active';
    process.env.GOMP_SPINCOUNT = '20000';
  }
  // likewise OpenBLAS's worker, which spins for 2^28 cycles after each GEMM by default: sleeping
  // after 2^4 made a DT training step 10-15% faster on 2 cores (docs/performance.md)
  if (process.env.OPENBLAS_THREAD_TIMEOUT === undefined) process.env.OPENBLAS_THREAD_TIMEOUT = '4';
  const path = addonPath();
  if (!existsSync(path)) throw new Error(`native addon not built (${path} missing; run npm run build:native)`);
  const require = createRequire(import.meta.url);
  return require(path) as NativeAddon;
}

export class NativeBackend implements Backend {
  readonly name = 'native' as const;

  constructor(private readonly addon: NativeAddon) {}

  blasInfo(): string {
    return this.addon.blasInfo();
  }

  threads(): number {
    return this.addon.threads();
  }

  setThreads(n: number): void {
    this.addon.setThreads(n);
  }

  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: FloatArray, lda: number, b: FloatArray, ldb: number, beta: number,
    c: FloatArray, ldc: number, batch?: GemmBatch,
  ): void {
    this.addon.gemm(
      transA, transB, m, n, k, alpha, f32(a, 'A'), lda, f32(b, 'B'), ldb, beta, f32(c, 'C'), ldc,
      batch?.count ?? 1, batch?.strideA ?? 0, batch?.strideB ?? 0, batch?.strideC ?? 0,
    );
  }

  gemmPair(first: GemmCall, second: GemmCall): void {
    const { addon } = this;
    addon.gemmPair(
      first.transA, first.transB, first.m, first.n, first.k, first.alpha, f32(first.a, 'A'), first.lda,
      f32(first.b, 'B'), first.ldb, first.beta, f32(first.c, 'C'), first.ldc,
      second.transA, second.transB, second.m, second.n, second.k, second.alpha, f32(second.a, 'A'), second.lda,
      f32(second.b, 'B'), second.ldb, second.beta, f32(second.c, 'C'), second.ldc,
    );
  }

  addBiasRows(x: FloatArray, bias: FloatArray, rows: number, cols: number): void {
    this.addon.addBiasRows(f32(x, 'x'), f32(bias, 'bias'), rows, cols);
  }

  sumRows(x: FloatArray, rows: number, cols: number, out: FloatArray, accumulate: boolean): void {
    this.addon.sumRows(f32(x, 'x'), rows, cols, f32(out, 'out'), accumulate);
  }

  add(a: FloatArray, b: FloatArray, out: FloatArray, n: number): void {
    this.addon.add(f32(a, 'a'), f32(b, 'b'), f32(out, 'out'), n);
  }

  axpy(alpha: number, x: FloatArray, y: FloatArray, n: number): void {
    this.addon.axpy(alpha, f32(x, 'x'), f32(y, 'y'), n);
  }

  scale(x: FloatArray, alpha: number, n: number): void {
    this.addon.scale(f32(x, 'x'), alpha, n);
  }

  sumSquares(x: FloatArray, n: number): number {
    return this.addon.sumSquares(f32(x, 'x'), n);
  }

  activation(kind: Activation, x: FloatArray, out: FloatArray, n: number): void {
    this.addon.activation(ACTIVATION_CODES[kind], f32(x, 'x'), f32(out, 'out'), n);
  }

  activationBackward(kind: Activation, x: FloatArray, gradOut: FloatArray, gradX: FloatArray, n: number, accumulate: boolean): void {
    this.addon.activationBackward(ACTIVATION_CODES[kind], f32(x, 'x'), f32(gradOut, 'gradOut'), f32(gradX, 'gradX'), n, accumulate);
  }

  biasActivation(kind: Activation, x: FloatArray, bias: FloatArray, out: FloatArray, rows: number, cols: number): void {
    this.addon.biasActivation(ACTIVATION_CODES[kind], f32(x, 'x'), f32(bias, 'bias'), f32(out, 'out'), rows, cols);
  }

  activationBackwardBias(
    kind: Activation, x: FloatArray, gradOut: FloatArray, gradX: FloatArray, biasGrad: FloatArray,
    rows: number, cols: number, accumulate: boolean,
  ): void {
    this.addon.activationBackwardBias(
      ACTIVATION_CODES[kind], f32(x, 'x'), f32(gradOut, 'gradOut'), f32(gradX, 'gradX'), f32(biasGrad, 'biasGrad'), rows, cols, accumulate,
    );
  }

  dropout(x: FloatArray, out: FloatArray, n: number, p: number, seed: number): void {
    this.addon.dropout(f32(x, 'x'), f32(out, 'out'), n, p, seed >>> 0);
  }

  dropoutBackward(gradOut: FloatArray, gradX: FloatArray, n: number, p: number, seed: number, accumulate: boolean): void {
    this.addon.dropoutBackward(f32(gradOut, 'gradOut'), f32(gradX, 'gradX'), n, p, seed >>> 0, accumulate);
  }

  layerNorm(
    x: FloatArray, gamma: FloatArray, beta: FloatArray, out: FloatArray,
    mean: FloatArray, rstd: FloatArray, rows: number, cols: number, eps: number,
  ): void {
    this.addon.layerNorm(f32(x, 'x'), f32(gamma, 'gamma'), f32(beta, 'beta'), f32(out, 'out'), f32(mean, 'mean'), f32(rstd, 'rstd'), rows, cols, eps);
  }

  layerNormBackward(
    x: FloatArray, gamma: FloatArray, mean: FloatArray, rstd: FloatArray, gradOut: FloatArray,
    gradX: FloatArray, gradGamma: FloatArray, gradBeta: FloatArray, rows: number, cols: number, accumulate: boolean,
  ): void {
    this.addon.layerNormBackward(
      f32(x, 'x'), f32(gamma, 'gamma'), f32(mean, 'mean'), f32(rstd, 'rstd'), f32(gradOut, 'gradOut'),
      f32(gradX, 'gradX'), f32(gradGamma, 'gradGamma'), f32(gradBeta, 'gradBeta'), rows, cols, accumulate,
    );
  }

  attention(qkv: FloatArray, keyMask: FloatArray | null, probs: FloatArray, out: FloatArray, s: AttentionShape): void {
    this.addon.attention(
      f32(qkv, 'qkv'), keyMask === null ? null : f32(keyMask, 'keyMask'), f32(probs, 'probs'), f32(out, 'out'),
      s.batch, s.tokens, s.heads, s.headDim, s.causal, s.dropout, s.seed >>> 0,
    );
  }

  attentionBackward(qkv: FloatArray, probs: FloatArray, gradOut: FloatArray, gradQkv: FloatArray, s: AttentionShape, accumulate: boolean): void {
    this.addon.attentionBackward(
      f32(qkv, 'qkv'), f32(probs, 'probs'), f32(gradOut, 'gradOut'), f32(gradQkv, 'gradQkv'),
      s.batch, s.tokens, s.heads, s.headDim, s.causal, s.dropout, s.seed >>> 0, accumulate,
    );
  }

  gatherRows(table: FloatArray, index: Int32Array, out: FloatArray, cols: number): void {
    this.addon.gatherRows(f32(table, 'table'), index, f32(out, 'out'), cols);
  }

  scatterAddRows(gradOut: FloatArray, index: Int32Array, gradTable: FloatArray, cols: number): void {
    this.addon.scatterAddRows(f32(gradOut, 'gradOut'), index, f32(gradTable, 'gradTable'), cols);
  }

  adamUpdate(param: FloatArray, grad: FloatArray, m: FloatArray, v: FloatArray, n: number, s: AdamStep): void {
    this.addon.adamUpdate(
      f32(param, 'param'), f32(grad, 'grad'), f32(m, 'm'), f32(v, 'v'), n,
      s.lr, s.beta1, s.beta2, s.eps, s.weightDecay, s.decoupled, s.biasCorrection1, s.biasCorrection2,
    );
  }

  lambUpdate(param: FloatArray, grad: FloatArray, m: FloatArray, v: FloatArray, update: FloatArray, n: number, s: AdamStep): void {
    this.addon.lambUpdate(
      f32(param, 'param'), f32(grad, 'grad'), f32(m, 'm'), f32(v, 'v'), f32(update, 'update'), n,
      s.lr, s.beta1, s.beta2, s.eps, s.weightDecay, s.biasCorrection1, s.biasCorrection2,
    );
  }
}
