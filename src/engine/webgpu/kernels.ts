/**
 * The WGSL kernels with the semantics of the reference backend (backends/js.ts), one method per
 * `Backend` op, on device-resident arrays (`GpuArray`). Methods only queue dispatches; values
 * reach the host through `GpuRuntime.read`. Reductions that the CPU backends return as numbers
 * (sumSquares, the global gradient norm) land in a one-element device array instead, so a
 * training step never waits on the GPU.
 *
 * Arrays passed to one call must be distinct buffers (WebGPU forbids a buffer bound both
 * writable and again in one dispatch), except where a method says aliasing is allowed.
 */
import type {
  Activation, AdamStep, AttentionShape, BinaryKind, BroadcastLayout, CopyBlocks, GemmBatch, GemmCall, ReduceLayout, UnaryKind,
} from '../backend.js';
import { axisFields, elementCount, forwardOffsets, forwardParams, operandCount, preimageLoop, preimageParams, PREIMAGE_FIELDS } from './layouts.js';
import { type GpuArray, type GpuRuntime, type Param } from './runtime.js';
import {
  activationPrelude, BINARY_DERIVATIVE, BINARY_VALUE, DROPOUT_KEEP, elementwise, FLOAT_BITS, gemmSource, GEMM_TILE_M, GEMM_TILE_N, header,
  ROW_SCRATCH, rowReduction, UNARY_DERIVATIVE, UNARY_VALUE, WORKGROUP_1D, WORKGROUP_ROW, type Binding,
} from './wgsl.js';

/** GemmCall (backend.ts) on device arrays */
export type GpuGemmCall = Omit<GemmCall, 'a' | 'b' | 'c'> & { a: GpuArray; b: GpuArray; c: GpuArray };

const u32 = (value: number): Param => ({ u32: value });
const f32 = (value: number): Param => ({ f32: value });
const flag = (value: boolean): Param => ({ u32: value ? 1 : 0 });
const read = (name: string, type: 'f32' | 'i32' = 'f32'): Binding => ({ name, access: 'read', type });
const write = (name: string): Binding => ({ name, access: 'read_write' });

/** workgroups whose index is a row: wg.y * nwg.x + wg.x */
const ROW_INDEX = 'let row = wg.y * nwg.x + wg.x;';
const ROW_BUILTINS = '@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u';

/** `dropoutKeep`'s p as the integer threshold the WGSL stream compares with (see DROPOUT_KEEP) */
export function dropoutThreshold(p: number): number {
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout: p must be in [0, 1), got ${p}`);
  return Math.ceil(p * 16777216);
}

function dropoutSeed(seed: number): number {
  // dropoutKeep adds the seed before >>> 0; that equals adding seed mod 2^32 only for integers
  if (!Number.isInteger(seed)) throw new RangeError(`dropout: seed must be an integer, got ${seed}`);
  return ((seed % 4294967296) + 4294967296) % 4294967296;
}

const PARTIAL_MODE = { sum: 0, square: 1, nonFinite: 2 } as const;

/** WGSL that ends the thread (writing nothing) when the guard's first element is NaN or +-Inf */
const GUARD_CHECK = 'if (!isFinite_(guard[0])) { return; }';

export class WebGpuKernels {
  readonly runtime: GpuRuntime;
  /** a one-element array bound where an optional input (the key mask) is absent */
  private placeholder: GpuArray | null = null;

  constructor(runtime: GpuRuntime) {
    this.runtime = runtime;
  }

  /** C[z] = alpha * op(A[z]) op(B[z]) + beta * C[z], as Backend.gemm */
  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: GpuArray, lda: number, b: GpuArray, ldb: number, beta: number,
    c: GpuArray, ldc: number, batch?: GemmBatch,
  ): void {
    const pipeline = this.runtime.pipeline('gemm', gemmSource);
    const count = batch?.count ?? 1;
    const params = [
      u32(m), u32(n), u32(k), u32(lda), u32(ldb), u32(ldc), flag(transA), flag(transB),
      u32(batch?.strideA ?? 0), u32(batch?.strideB ?? 0), u32(batch?.strideC ?? 0), f32(alpha), f32(beta),
    ];
    this.runtime.dispatch(pipeline, [a, b, c], params, [Math.ceil(n / GEMM_TILE_N), Math.ceil(m / GEMM_TILE_M), count]);
  }

  /**
   * Two independent products, as Backend.gemmPair. On the GPU they are two dispatches of one
   * batch: the queue orders them, and the device fills itself from both.
   */
  gemmPair(first: GpuGemmCall, second: GpuGemmCall): void {
    for (const call of [first, second]) {
      this.gemm(call.transA, call.transB, call.m, call.n, call.k, call.alpha, call.a, call.lda, call.b, call.ldb, call.beta, call.c, call.ldc);
    }
  }

  /** x[r, c] += bias[c] */
  addBiasRows(x: GpuArray, bias: GpuArray, rows: number, cols: number): void {
    const pipeline = this.runtime.pipeline('addBiasRows', () => elementwise(['cols: u32'], [write('x'), read('bias')], 'x[i] += bias[i % P.cols];'));
    this.runtime.dispatch(pipeline, [x, bias], [u32(rows * cols), u32(cols)], this.runtime.grid(rows * cols, WORKGROUP_1D));
  }

  /** out[c] (+)= sum_r x[r, c]: one thread per column, rows in order (deterministic) */
  sumRows(x: GpuArray, rows: number, cols: number, out: GpuArray, accumulate: boolean): void {
    const pipeline = this.runtime.pipeline('sumRows', () => elementwise(['rows: u32', 'accumulate: u32'], [read('x'), write('out')], `
  var sum = 0.0;
  for (var r = 0u; r < P.rows; r++) { sum += x[r * P.n + i]; }
  if (P.accumulate == 1u) { out[i] += sum; } else { out[i] = sum; }`));
    this.runtime.dispatch(pipeline, [x, out], [u32(cols), u32(rows), flag(accumulate)], this.runtime.grid(cols, WORKGROUP_1D));
  }

  /** out[i] = a[i] + b[i]; out may alias a or b */
  add(a: GpuArray, b: GpuArray, out: GpuArray, n: number): void {
    const same = (x: GpuArray, y: GpuArray): boolean => x.buffer === y.buffer;
    if (same(out, a) || same(out, b)) {
      const other = same(out, a) ? b : a;
      if (same(other, out)) {
        const pipeline = this.runtime.pipeline('addSelf', () => elementwise([], [write('out')], 'out[i] = out[i] + out[i];'));
        this.runtime.dispatch(pipeline, [out], [u32(n)], this.runtime.grid(n, WORKGROUP_1D));
        return;
      }
      const pipeline = this.runtime.pipeline('addInPlace', () => elementwise([], [write('out'), read('other')], 'out[i] = out[i] + other[i];'));
      this.runtime.dispatch(pipeline, [out, other], [u32(n)], this.runtime.grid(n, WORKGROUP_1D));
      return;
    }
    if (same(a, b)) {
      const pipeline = this.runtime.pipeline('addTwice', () => elementwise([], [read('a'), write('out')], 'out[i] = a[i] + a[i];'));
      this.runtime.dispatch(pipeline, [a, out], [u32(n)], this.runtime.grid(n, WORKGROUP_1D));
      return;
    }
    const pipeline = this.runtime.pipeline('add', () => elementwise([], [read('a'), read('b'), write('out')], 'out[i] = a[i] + b[i];'));
    this.runtime.dispatch(pipeline, [a, b, out], [u32(n)], this.runtime.grid(n, WORKGROUP_1D));
  }

  /** y[i] += alpha * x[i] */
  axpy(alpha: number, x: GpuArray, y: GpuArray, n: number): void {
    const pipeline = this.runtime.pipeline('axpy', () => elementwise(['alpha: f32'], [read('x'), write('y')], 'y[i] = fma(P.alpha, x[i], y[i]);'));
    this.runtime.dispatch(pipeline, [x, y], [u32(n), f32(alpha)], this.runtime.grid(n, WORKGROUP_1D));
  }

  /** x[i] *= alpha */
  scale(x: GpuArray, alpha: number, n: number): void {
    const pipeline = this.runtime.pipeline('scale', () => elementwise(['alpha: f32'], [write('x')], 'x[i] *= P.alpha;'));
    this.runtime.dispatch(pipeline, [x], [u32(n), f32(alpha)], this.runtime.grid(n, WORKGROUP_1D));
  }

  /**
   * out[slot] = sum of x[i]^2 for i < n, in f32: each of up to 256 workgroups reduces a strided
   * share in a tree, then one workgroup sums the partial sums (deterministic for a given n).
   */
  sumSquaresInto(x: GpuArray, n: number, out: GpuArray, slot: number): void {
    const partials = this.runtime.allocate(WORKGROUP_1D);
    const groups = this.partialSums(x, n, partials, 'square');
    this.partialSums(partials, groups, out, 'sum', slot);
    this.runtime.release(partials);
  }

  /**
   * The first pass of the tree sums: up to 256 workgroups each reduce a strided share of
   * f(x[i]) for i < n (f: the value, its square, or 1 for NaN and +-Inf) into out[slot + group].
   * Returns the number of workgroups (partial sums written).
   */
  private partialSums(x: GpuArray, n: number, out: GpuArray, mode: 'sum' | 'square' | 'nonFinite', slot = 0): number {
    const groups = Math.max(1, Math.min(WORKGROUP_1D, Math.ceil(n / WORKGROUP_1D)));
    const pipeline = this.runtime.pipeline('partialSums', () => `${header(['n: u32', 'mode: u32', 'slot: u32'], [read('x'), write('partials')])}
${FLOAT_BITS}
var<workgroup> tree: array<f32, ${WORKGROUP_1D}>;
@compute @workgroup_size(${WORKGROUP_1D})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = lid.x;
  let stride = nwg.x * ${WORKGROUP_1D}u;
  var sum = 0.0;
  for (var i = wg.x * ${WORKGROUP_1D}u + t; i < P.n; i += stride) {
    let v = x[i];
    if (P.mode == 0u) { sum += v; } else if (P.mode == 1u) { sum += v * v; } else { sum += select(0.0, 1.0, !isFinite_(v)); }
  }
  tree[t] = sum;
  workgroupBarrier();
  for (var s = ${WORKGROUP_1D / 2}u; s > 0u; s >>= 1u) {
    if (t < s) { tree[t] += tree[t + s]; }
    workgroupBarrier();
  }
  if (t == 0u) { partials[wg.x + P.slot] = tree[0]; }
}`);
    this.runtime.dispatch(pipeline, [x, out], [u32(n), u32(PARTIAL_MODE[mode]), u32(slot)], [groups, 1, 1]);
    return groups;
  }

  /** sum of x[i]^2 as a new one-element array (the CPU backends return it as a number) */
  sumSquares(x: GpuArray, n: number): GpuArray {
    const out = this.runtime.allocate(1);
    this.sumSquaresInto(x, n, out, 0);
    return out;
  }

  /** out[i] = f(x[i]) */
  activation(kind: Activation, x: GpuArray, out: GpuArray, n: number): void {
    const pipeline = this.runtime.pipeline(`activation:${kind}`, () => elementwise([], [read('x'), write('out')], 'out[i] = act(x[i]);', activationPrelude(kind)));
    this.runtime.dispatch(pipeline, [x, out], [u32(n)], this.runtime.grid(n, WORKGROUP_1D));
  }

  /** gradX[i] (+)= f'(x[i]) * gradOut[i] */
  activationBackward(kind: Activation, x: GpuArray, gradOut: GpuArray, gradX: GpuArray, n: number, accumulate: boolean): void {
    const pipeline = this.runtime.pipeline(`activationBackward:${kind}`, () => elementwise(['accumulate: u32'], [read('x'), read('gradOut'), write('gradX')], `
  let g = actDerivative(x[i]) * gradOut[i];
  if (P.accumulate == 1u) { gradX[i] += g; } else { gradX[i] = g; }`, activationPrelude(kind)));
    this.runtime.dispatch(pipeline, [x, gradOut, gradX], [u32(n), flag(accumulate)], this.runtime.grid(n, WORKGROUP_1D));
  }

  /** x[r, c] += bias[c] (x keeps the pre-activation), out[r, c] = f(x[r, c]), in one pass */
  biasActivation(kind: Activation, x: GpuArray, bias: GpuArray, out: GpuArray, rows: number, cols: number): void {
    const pipeline = this.runtime.pipeline(`biasActivation:${kind}`, () => elementwise(['cols: u32'], [write('x'), read('bias'), write('out')], `
  let pre = x[i] + bias[i % P.cols];
  x[i] = pre;
  out[i] = act(pre);`, activationPrelude(kind)));
    this.runtime.dispatch(pipeline, [x, bias, out], [u32(rows * cols), u32(cols)], this.runtime.grid(rows * cols, WORKGROUP_1D));
  }

  /** gradX = f'(x) * gradOut (overwritten), biasGrad (+)= its column sums */
  activationBackwardBias(
    kind: Activation, x: GpuArray, gradOut: GpuArray, gradX: GpuArray, biasGrad: GpuArray,
    rows: number, cols: number, accumulate: boolean,
  ): void {
    this.activationBackward(kind, x, gradOut, gradX, rows * cols, false);
    this.sumRows(gradX, rows, cols, biasGrad, accumulate);
  }

  /** out[i] = keep(seed, i) ? x[i] / (1 - p) : 0 with the CPU backends' mask; out may alias x */
  dropout(x: GpuArray, out: GpuArray, n: number, p: number, seed: number): void {
    const params = [u32(n), u32(dropoutSeed(seed)), u32(dropoutThreshold(p)), f32(1 / (1 - p))];
    const fields = ['seed: u32', 'threshold: u32', 'keepScale: f32'];
    if (x.buffer === out.buffer) {
      const pipeline = this.runtime.pipeline('dropoutInPlace', () => elementwise(fields, [write('out')],
        'out[i] = select(0.0, out[i] * P.keepScale, dropoutKeep(P.seed, i, P.threshold));', DROPOUT_KEEP));
      this.runtime.dispatch(pipeline, [out], params, this.runtime.grid(n, WORKGROUP_1D));
      return;
    }
    const pipeline = this.runtime.pipeline('dropout', () => elementwise(fields, [read('x'), write('out')],
      'out[i] = select(0.0, x[i] * P.keepScale, dropoutKeep(P.seed, i, P.threshold));', DROPOUT_KEEP));
    this.runtime.dispatch(pipeline, [x, out], params, this.runtime.grid(n, WORKGROUP_1D));
  }

  /** gradX[i] (+)= keep(seed, i) ? gradOut[i] / (1 - p) : 0 */
  dropoutBackward(gradOut: GpuArray, gradX: GpuArray, n: number, p: number, seed: number, accumulate: boolean): void {
    const pipeline = this.runtime.pipeline('dropoutBackward', () => elementwise(
      ['seed: u32', 'threshold: u32', 'keepScale: f32', 'accumulate: u32'], [read('gradOut'), write('gradX')], `
  let g = select(0.0, gradOut[i] * P.keepScale, dropoutKeep(P.seed, i, P.threshold));
  if (P.accumulate == 1u) { gradX[i] += g; } else { gradX[i] = g; }`, DROPOUT_KEEP));
    this.runtime.dispatch(pipeline, [gradOut, gradX],
      [u32(n), u32(dropoutSeed(seed)), u32(dropoutThreshold(p)), f32(1 / (1 - p)), flag(accumulate)], this.runtime.grid(n, WORKGROUP_1D));
  }

  /** LayerNorm over rows (biased variance): one workgroup per row, two-pass mean and variance as the reference */
  layerNorm(
    x: GpuArray, gamma: GpuArray, beta: GpuArray, out: GpuArray,
    mean: GpuArray, rstd: GpuArray, rows: number, cols: number, eps: number,
  ): void {
    const pipeline = this.runtime.pipeline('layerNorm', () => `${header(['rows: u32', 'cols: u32', 'eps: f32'],
      [read('x'), read('gamma'), read('beta'), write('out'), write('mean'), write('rstd')])}
${ROW_SCRATCH}
${rowReduction('rowSum', 'sum')}
@compute @workgroup_size(${WORKGROUP_ROW})
fn main(${ROW_BUILTINS}) {
  ${ROW_INDEX}
  if (row >= P.rows) { return; }
  let t = lid.x;
  let off = row * P.cols;
  var local = 0.0;
  for (var c = t; c < P.cols; c += ${WORKGROUP_ROW}u) { local += x[off + c]; }
  let mu = rowSum(local, t) / f32(P.cols);
  local = 0.0;
  for (var c = t; c < P.cols; c += ${WORKGROUP_ROW}u) { let d = x[off + c] - mu; local += d * d; }
  let variance = rowSum(local, t) / f32(P.cols);
  let rs = 1.0 / sqrt(variance + P.eps);
  if (t == 0u) { mean[row] = mu; rstd[row] = rs; }
  for (var c = t; c < P.cols; c += ${WORKGROUP_ROW}u) { out[off + c] = (x[off + c] - mu) * rs * gamma[c] + beta[c]; }
}`);
    this.runtime.dispatch(pipeline, [x, gamma, beta, out, mean, rstd], [u32(rows), u32(cols), f32(eps)], this.runtime.grid(rows, 1));
  }

  /**
   * gradX (+)= ... (one workgroup per row); gradGamma += ..., gradBeta += ... (one thread per
   * column summing the rows in order, so no atomics and a deterministic result).
   */
  layerNormBackward(
    x: GpuArray, gamma: GpuArray, mean: GpuArray, rstd: GpuArray, gradOut: GpuArray,
    gradX: GpuArray, gradGamma: GpuArray, gradBeta: GpuArray,
    rows: number, cols: number, accumulate: boolean,
  ): void {
    const rowPipeline = this.runtime.pipeline('layerNormBackwardRows', () => `${header(['rows: u32', 'cols: u32', 'accumulate: u32'],
      [read('x'), read('gamma'), read('mean'), read('rstd'), read('gradOut'), write('gradX')])}
${ROW_SCRATCH}
${rowReduction('rowSum', 'sum')}
@compute @workgroup_size(${WORKGROUP_ROW})
fn main(${ROW_BUILTINS}) {
  ${ROW_INDEX}
  if (row >= P.rows) { return; }
  let t = lid.x;
  let off = row * P.cols;
  let mu = mean[row];
  let rs = rstd[row];
  var localDxhat = 0.0;
  var localDxhatXhat = 0.0;
  for (var c = t; c < P.cols; c += ${WORKGROUP_ROW}u) {
    let xhat = (x[off + c] - mu) * rs;
    let dxhat = gradOut[off + c] * gamma[c];
    localDxhat += dxhat;
    localDxhatXhat += dxhat * xhat;
  }
  let meanDxhat = rowSum(localDxhat, t) / f32(P.cols);
  let meanDxhatXhat = rowSum(localDxhatXhat, t) / f32(P.cols);
  for (var c = t; c < P.cols; c += ${WORKGROUP_ROW}u) {
    let xhat = (x[off + c] - mu) * rs;
    let g = rs * (gradOut[off + c] * gamma[c] - meanDxhat - xhat * meanDxhatXhat);
    if (P.accumulate == 1u) { gradX[off + c] += g; } else { gradX[off + c] = g; }
  }
}`);
    this.runtime.dispatch(rowPipeline, [x, gamma, mean, rstd, gradOut, gradX], [u32(rows), u32(cols), flag(accumulate)], this.runtime.grid(rows, 1));
    const columnPipeline = this.runtime.pipeline('layerNormBackwardColumns', () => elementwise(['rows: u32'],
      [read('x'), read('mean'), read('rstd'), read('gradOut'), write('gradGamma'), write('gradBeta')], `
  var sumGamma = 0.0;
  var sumBeta = 0.0;
  for (var r = 0u; r < P.rows; r++) {
    let dy = gradOut[r * P.n + i];
    sumGamma += dy * (x[r * P.n + i] - mean[r]) * rstd[r];
    sumBeta += dy;
  }
  gradGamma[i] += sumGamma;
  gradBeta[i] += sumBeta;`));
    this.runtime.dispatch(columnPipeline, [x, mean, rstd, gradOut, gradGamma, gradBeta], [u32(cols), u32(rows)], this.runtime.grid(cols, WORKGROUP_1D));
  }

  /**
   * Fused multi-head attention on the [batch * tokens, 3C] projection, as Backend.attention:
   * one workgroup per (query, batch * head) computes the scores, the masked softmax (saved in
   * probs, before dropout) and the output row, with attention dropout from the shared stream.
   */
  attention(qkv: GpuArray, keyMask: GpuArray | null, probs: GpuArray, out: GpuArray, shape: AttentionShape): void {
    const { batch, tokens, heads, headDim, causal, dropout: p, seed } = shape;
    const pipeline = this.runtime.pipeline('attention', () => `${header(
      ['T: u32', 'H: u32', 'D: u32', 'causal: u32', 'hasMask: u32', 'dropout: u32', 'seed: u32', 'threshold: u32', 'scale: f32', 'keepScale: f32'],
      [read('qkv'), read('keyMask'), write('probs'), write('out')])}
${ROW_SCRATCH}
${rowReduction('rowSum', 'sum')}
${rowReduction('rowMax', 'max')}
${DROPOUT_KEEP}
const LOWEST: f32 = -3.4028234e38;
fn visible(b: u32, i: u32, j: u32) -> bool {
  if (P.causal == 1u && j > i) { return false; }
  return P.hasMask == 0u || keyMask[b * P.T + j] != 0.0;
}
@compute @workgroup_size(${WORKGROUP_ROW})
fn main(${ROW_BUILTINS}) {
  let i = wg.x;
  let bh = wg.y;
  let b = bh / P.H;
  let h = bh % P.H;
  let t = lid.x;
  let C = P.H * P.D;
  let rowStride = 3u * C;
  let pRow = (bh * P.T + i) * P.T;
  let qOff = (b * P.T + i) * rowStride + h * P.D;
  var localMax = LOWEST;
  for (var j = t; j < P.T; j += ${WORKGROUP_ROW}u) {
    var score = 0.0;
    if (visible(b, i, j)) {
      let kOff = (b * P.T + j) * rowStride + C + h * P.D;
      var dot = 0.0;
      for (var d = 0u; d < P.D; d++) { dot += qkv[qOff + d] * qkv[kOff + d]; }
      score = dot * P.scale;
      localMax = max(localMax, score);
    }
    probs[pRow + j] = score;
  }
  let maxScore = rowMax(localMax, t);
  var localTotal = 0.0;
  for (var j = t; j < P.T; j += ${WORKGROUP_ROW}u) {
    var e = 0.0;
    if (visible(b, i, j)) { e = exp(probs[pRow + j] - maxScore); }
    probs[pRow + j] = e;
    localTotal += e;
  }
  let total = rowSum(localTotal, t);
  let inv = select(0.0, 1.0 / total, total > 0.0);
  for (var j = t; j < P.T; j += ${WORKGROUP_ROW}u) { probs[pRow + j] *= inv; }
  storageBarrier();
  workgroupBarrier();
  let oOff = (b * P.T + i) * C + h * P.D;
  for (var d = t; d < P.D; d += ${WORKGROUP_ROW}u) {
    var acc = 0.0;
    for (var j = 0u; j < P.T; j++) {
      var weight = probs[pRow + j];
      if (weight == 0.0) { continue; }
      if (P.dropout == 1u) { weight = select(0.0, weight * P.keepScale, dropoutKeep(P.seed, pRow + j, P.threshold)); }
      acc += weight * qkv[(b * P.T + j) * rowStride + 2u * C + h * P.D + d];
    }
    out[oOff + d] = acc;
  }
}`);
    const mask = keyMask ?? this.placeholderArray();
    const dropping = p > 0;
    this.runtime.dispatch(pipeline, [qkv, mask, probs, out], [
      u32(tokens), u32(heads), u32(headDim), flag(causal), flag(keyMask !== null), flag(dropping),
      u32(dropping ? dropoutSeed(seed) : 0), u32(dropping ? dropoutThreshold(p) : 0), f32(1 / Math.sqrt(headDim)), f32(dropping ? 1 / (1 - p) : 1),
    ], [tokens, batch * heads, 1]);
  }

  /**
   * gradQkv (+)= d(out)/d(qkv) . gradOut. Deterministic without atomics: a first pass writes the
   * score gradients dS[b, h, i, j] to scratch (one workgroup per query row), a second gives each
   * (token, batch * head) its own q, k and v gradient rows and sums over the other token in order.
   */
  attentionBackward(qkv: GpuArray, probs: GpuArray, gradOut: GpuArray, gradQkv: GpuArray, shape: AttentionShape, accumulate: boolean): void {
    const { batch, tokens, heads, headDim, dropout: p, seed } = shape;
    const fields = ['T: u32', 'H: u32', 'D: u32', 'dropout: u32', 'seed: u32', 'threshold: u32', 'accumulate: u32', 'scale: f32', 'keepScale: f32'];
    const dropping = p > 0;
    const params = [
      u32(tokens), u32(heads), u32(headDim), flag(dropping), u32(dropping ? dropoutSeed(seed) : 0),
      u32(dropping ? dropoutThreshold(p) : 0), flag(accumulate), f32(1 / Math.sqrt(headDim)), f32(dropping ? 1 / (1 - p) : 1),
    ];
    const prelude = `${DROPOUT_KEEP}
fn keepFactor(index: u32) -> f32 {
  if (P.dropout == 0u) { return 1.0; }
  return select(0.0, P.keepScale, dropoutKeep(P.seed, index, P.threshold));
}`;
    const scorePipeline = this.runtime.pipeline('attentionBackwardScores', () => `${header(fields, [read('qkv'), read('probs'), read('gradOut'), write('gradScores')])}
${ROW_SCRATCH}
${rowReduction('rowSum', 'sum')}
${prelude}
@compute @workgroup_size(${WORKGROUP_ROW})
fn main(${ROW_BUILTINS}) {
  let i = wg.x;
  let bh = wg.y;
  let b = bh / P.H;
  let h = bh % P.H;
  let t = lid.x;
  let C = P.H * P.D;
  let rowStride = 3u * C;
  let pRow = (bh * P.T + i) * P.T;
  let oOff = (b * P.T + i) * C + h * P.D;
  var localDot = 0.0;
  for (var j = t; j < P.T; j += ${WORKGROUP_ROW}u) {
    let pj = probs[pRow + j];
    var gradProb = 0.0;
    if (pj != 0.0) {
      let vOff = (b * P.T + j) * rowStride + 2u * C + h * P.D;
      var gp = 0.0;
      for (var d = 0u; d < P.D; d++) { gp += gradOut[oOff + d] * qkv[vOff + d]; }
      gradProb = gp * keepFactor(pRow + j);
    }
    gradScores[pRow + j] = gradProb;
    localDot += gradProb * pj;
  }
  let dot = rowSum(localDot, t);
  for (var j = t; j < P.T; j += ${WORKGROUP_ROW}u) {
    let pj = probs[pRow + j];
    gradScores[pRow + j] = pj * (gradScores[pRow + j] - dot) * P.scale;
  }
}`);
    const gradScores = this.runtime.allocate(batch * heads * tokens * tokens);
    this.runtime.dispatch(scorePipeline, [qkv, probs, gradOut, gradScores], params, [tokens, batch * heads, 1]);
    const rowsPipeline = this.runtime.pipeline('attentionBackwardRows', () => `${header(fields, [read('qkv'), read('probs'), read('gradOut'), read('gradScores'), write('gradQkv')])}
${prelude}
fn store(index: u32, value: f32) {
  if (P.accumulate == 1u) { gradQkv[index] += value; } else { gradQkv[index] = value; }
}
@compute @workgroup_size(${WORKGROUP_ROW})
fn main(${ROW_BUILTINS}) {
  let s = wg.x;
  let bh = wg.y;
  let b = bh / P.H;
  let h = bh % P.H;
  let C = P.H * P.D;
  let rowStride = 3u * C;
  let sOff = (b * P.T + s) * rowStride + h * P.D;
  for (var d = lid.x; d < P.D; d += ${WORKGROUP_ROW}u) {
    // token s as the query: dq_s = sum_j dS[s, j] k_j
    var gradQ = 0.0;
    let sRow = (bh * P.T + s) * P.T;
    for (var j = 0u; j < P.T; j++) {
      gradQ += gradScores[sRow + j] * qkv[(b * P.T + j) * rowStride + C + h * P.D + d];
    }
    // token s as a key and value: dk_s = sum_i dS[i, s] q_i, dv_s = sum_i P'[i, s] dOut_i
    var gradK = 0.0;
    var gradV = 0.0;
    for (var i = 0u; i < P.T; i++) {
      let index = (bh * P.T + i) * P.T + s;
      gradK += gradScores[index] * qkv[(b * P.T + i) * rowStride + h * P.D + d];
      let pis = probs[index];
      if (pis != 0.0) { gradV += pis * keepFactor(index) * gradOut[(b * P.T + i) * C + h * P.D + d]; }
    }
    store(sOff + d, gradQ);
    store(sOff + C + d, gradK);
    store(sOff + 2u * C + d, gradV);
  }
}`);
    this.runtime.dispatch(rowsPipeline, [qkv, probs, gradOut, gradScores, gradQkv], params, [tokens, batch * heads, 1]);
    this.runtime.release(gradScores);
  }

  /** out[r, :] = table[index[r], :] for r < rows; index is an i32 array */
  gatherRows(table: GpuArray, index: GpuArray, out: GpuArray, rows: number, cols: number): void {
    const pipeline = this.runtime.pipeline('gatherRows', () => elementwise(['cols: u32'], [read('table'), read('index', 'i32'), write('out')],
      'out[i] = table[u32(index[i / P.cols]) * P.cols + i % P.cols];'));
    this.runtime.dispatch(pipeline, [table, index, out], [u32(rows * cols), u32(cols)], this.runtime.grid(rows * cols, WORKGROUP_1D));
  }

  /**
   * gradTable[index[r], :] += gradOut[r, :]. One thread per column walks the rows in order: no
   * float atomics exist in WGSL, a compare-and-swap loop would add in a different order on every
   * run, and this order is the reference's, so the result is bit-identical to it.
   */
  scatterAddRows(gradOut: GpuArray, index: GpuArray, gradTable: GpuArray, rows: number, cols: number): void {
    const pipeline = this.runtime.pipeline('scatterAddRows', () => elementwise(['rows: u32'], [read('gradOut'), read('index', 'i32'), write('gradTable')], `
  for (var r = 0u; r < P.rows; r++) {
    let dst = u32(index[r]) * P.n + i;
    gradTable[dst] += gradOut[r * P.n + i];
  }`));
    this.runtime.dispatch(pipeline, [gradOut, index, gradTable], [u32(cols), u32(rows)], this.runtime.grid(cols, WORKGROUP_1D));
  }

  /** x[i] = value for i < n */
  fill(x: GpuArray, value: number, n: number): void {
    const pipeline = this.runtime.pipeline('fill', () => elementwise(['value: f32'], [write('x')], 'x[i] = P.value;'));
    this.runtime.dispatch(pipeline, [x], [u32(n), f32(value)], this.runtime.grid(n, WORKGROUP_1D));
  }

  /**
   * dst[...] (+)= src[...] for each block (CopyBlocks): one thread per destination element, so
   * the destination blocks must not overlap (dstStride >= width when count > 1).
   */
  copyBlocks(src: GpuArray, dst: GpuArray, blocks: CopyBlocks, accumulate: boolean): void {
    const { count, width, srcOffset, srcStride, dstOffset, dstStride } = blocks;
    if (count > 1 && dstStride < width) throw new RangeError(`copyBlocks: destination blocks overlap (stride ${dstStride} < width ${width})`);
    if ([count, width, srcOffset, srcStride, dstOffset, dstStride].some((v) => !Number.isInteger(v) || v < 0)) {
      throw new RangeError('copyBlocks: counts, offsets and strides must be non-negative integers');
    }
    const n = count * width;
    const pipeline = this.runtime.pipeline('copyBlocks', () => elementwise(
      ['width: u32', 'srcOffset: u32', 'srcStride: u32', 'dstOffset: u32', 'dstStride: u32', 'accumulate: u32'], [read('src'), write('dst')], `
  let block = i / P.width;
  let column = i % P.width;
  let value = src[P.srcOffset + block * P.srcStride + column];
  let to = P.dstOffset + block * P.dstStride + column;
  if (P.accumulate == 1u) { dst[to] = dst[to] + value; } else { dst[to] = value; }`));
    this.runtime.dispatch(pipeline, [src, dst],
      [u32(n), u32(width), u32(srcOffset), u32(srcStride), u32(dstOffset), u32(dstStride), flag(accumulate)], this.runtime.grid(n, WORKGROUP_1D));
  }

  /** out[i] = f(x[i]; a, b) as unaryValue (backends/generic.ts); one pipeline per kind */
  unary(kind: UnaryKind, x: GpuArray, out: GpuArray, n: number, a: number, b: number): void {
    const pipeline = this.runtime.pipeline(`unary:${kind}`, () => elementwise(['a: f32', 'b: f32'], [read('x'), write('out')],
      `let x0 = x[i];\n  out[i] = ${UNARY_VALUE[kind]('x0')};`, FLOAT_BITS));
    this.runtime.dispatch(pipeline, [x, out], [u32(n), f32(a), f32(b)], this.runtime.grid(n, WORKGROUP_1D));
  }

  /** gradX[i] (+)= gradOut[i] * f'(x[i]) as unaryDerivative, with y = f(x) the forward output */
  unaryBackward(kind: UnaryKind, x: GpuArray, y: GpuArray, gradOut: GpuArray, gradX: GpuArray, n: number, a: number, b: number, accumulate: boolean): void {
    const pipeline = this.runtime.pipeline(`unaryBackward:${kind}`, () => elementwise(['a: f32', 'b: f32', 'accumulate: u32', 'zero: f32'],
      [read('x'), read('y'), read('gradOut'), write('gradX')], `
  let x0 = x[i];
  let y0 = y[i];
  let g = gradOut[i] * (${UNARY_DERIVATIVE[kind]('x0', 'y0')});
  if (P.accumulate == 1u) { gradX[i] = gradX[i] + g; } else { gradX[i] = g; }`));
    this.runtime.dispatch(pipeline, [x, y, gradOut, gradX], [u32(n), f32(a), f32(b), flag(accumulate), f32(0)], this.runtime.grid(n, WORKGROUP_1D));
  }

  /**
   * out[i] = a[offA(i)] op b[offB(i)] over the layout, one thread per output element
   * (elementCount(layout.shape) of them). a and b may be the same array (mul(x, x)): that
   * variant binds it once. out must be distinct from both.
   */
  binary(kind: BinaryKind, a: GpuArray, b: GpuArray, out: GpuArray, layout: BroadcastLayout): void {
    const aliased = a.buffer === b.buffer;
    const n = elementCount(layout.shape);
    const operands = aliased ? [read('a')] : [read('a'), read('b')];
    const pipeline = this.runtime.pipeline(`binary:${kind}:${aliased ? 'aliased' : 'distinct'}`, () => elementwise(
      axisFields('s', 'a', 'b'), [...operands, write('out')], `
  ${forwardOffsets('i', ['a', 'b'])}
  let x0 = a[off_a];
  let y0 = ${aliased ? 'a' : 'b'}[off_b];
  out[i] = ${BINARY_VALUE[kind]};`, FLOAT_BITS));
    const arrays = aliased ? [a, out] : [a, b, out];
    this.runtime.dispatch(pipeline, arrays, [u32(n), ...forwardParams('binary', layout.shape, [layout.aStrides, layout.bStrides])],
      this.runtime.grid(n, WORKGROUP_1D));
  }

  /**
   * The gradient of one operand, as Backend.binaryBackward: one thread per element of
   * gradInput (operandCount of the input's strides) walks the output elements that read it in
   * increasing index, so a broadcast operand's sum has the reference's order and no atomics.
   * a and b may be the same array; gradOut and gradInput must be distinct from them.
   */
  binaryBackward(
    kind: BinaryKind, a: GpuArray, b: GpuArray, gradOut: GpuArray, gradInput: GpuArray,
    input: 'a' | 'b', layout: BroadcastLayout, accumulate: boolean,
  ): void {
    const aliased = a.buffer === b.buffer;
    const targetStrides = input === 'a' ? layout.aStrides : layout.bStrides;
    const n = operandCount(layout.shape, targetStrides);
    const operands = aliased ? [read('a')] : [read('a'), read('b')];
    const pipeline = this.runtime.pipeline(`binaryBackward:${kind}:${input}:${aliased ? 'aliased' : 'distinct'}`, () => elementwise(
      ['accumulate: u32', ...PREIMAGE_FIELDS, ...axisFields('a', 'b')], [...operands, read('gradOut'), write('gradInput')], `
  var acc = select(0.0, gradInput[i], P.accumulate == 1u);
  ${preimageLoop('i', ['a', 'b'], `let x0 = a[off_a];
    let y0 = ${aliased ? 'a' : 'b'}[off_b];
    acc = acc + gradOut[src] * (${BINARY_DERIVATIVE[kind][input]});`)}
  gradInput[i] = acc;`));
    const arrays = aliased ? [a, gradOut, gradInput] : [a, b, gradOut, gradInput];
    const params = [u32(n), flag(accumulate), ...preimageParams('binaryBackward', layout.shape, targetStrides, [layout.aStrides, layout.bStrides])];
    this.runtime.dispatch(pipeline, arrays, params, this.runtime.grid(n, WORKGROUP_1D));
  }

  /** out[j] (+)= the sum, in increasing i, of x[i] over the elements i the layout maps to j; one thread per out element */
  reduceTo(x: GpuArray, out: GpuArray, layout: ReduceLayout, accumulate: boolean): void {
    const n = operandCount(layout.shape, layout.strides);
    const pipeline = this.runtime.pipeline('reduceTo', () => elementwise(['accumulate: u32', ...PREIMAGE_FIELDS], [read('x'), write('out')], `
  var acc = select(0.0, out[i], P.accumulate == 1u);
  ${preimageLoop('i', [], 'acc = acc + x[src];')}
  out[i] = acc;`));
    this.runtime.dispatch(pipeline, [x, out], [u32(n), flag(accumulate), ...preimageParams('reduceTo', layout.shape, layout.strides)],
      this.runtime.grid(n, WORKGROUP_1D));
  }

  /** out[i] (+)= x[off(i)] for every element i of the layout's shape (reduceTo's adjoint) */
  expand(x: GpuArray, out: GpuArray, layout: ReduceLayout, accumulate: boolean): void {
    const n = elementCount(layout.shape);
    const pipeline = this.runtime.pipeline('expand', () => elementwise(['accumulate: u32', ...axisFields('s', 'x')], [read('x'), write('out')], `
  ${forwardOffsets('i', ['x'])}
  let value = x[off_x];
  if (P.accumulate == 1u) { out[i] = out[i] + value; } else { out[i] = value; }`));
    this.runtime.dispatch(pipeline, [x, out], [u32(n), flag(accumulate), ...forwardParams('expand', layout.shape, [layout.strides])],
      this.runtime.grid(n, WORKGROUP_1D));
  }

  /**
   * out[0] = sum_r w_r sum_c (pred - target)^2 / normalizer (0 when normalizer <= 0), as
   * Backend.mseRows. One thread per row sums its columns in order (a row with weight 0 is
   * skipped, as in the reference, so its NaN does not count), then the row totals go through the
   * two-pass tree of sumSquares, then one thread adds the partial sums and divides.
   */
  mseRows(pred: GpuArray, target: GpuArray, weights: GpuArray | null, out: GpuArray, rows: number, cols: number, normalizer: number): void {
    const rowTotals = this.runtime.allocate(rows);
    const rowPipeline = this.runtime.pipeline('mseRowTotals', () => elementwise(['cols: u32', 'weighted: u32'],
      [read('pred'), read('targets'), read('weights'), write('rowTotals')], `
  let w = select(1.0, weights[i], P.weighted == 1u);
  var rowSum = 0.0;
  if (w != 0.0) {
    for (var c = 0u; c < P.cols; c++) {
      let d = pred[i * P.cols + c] - targets[i * P.cols + c];
      rowSum = rowSum + d * d;
    }
  }
  rowTotals[i] = w * rowSum;`));
    this.runtime.dispatch(rowPipeline, [pred, target, weights ?? this.placeholderArray(), rowTotals],
      [u32(rows), u32(cols), flag(weights !== null)], this.runtime.grid(rows, WORKGROUP_1D));
    const partials = this.runtime.allocate(WORKGROUP_1D);
    const groups = this.partialSums(rowTotals, rows, partials, 'sum');
    this.runtime.release(rowTotals);
    const finishPipeline = this.runtime.pipeline('mseFinish', () => `${header(['count: u32', 'normalizer: f32'], [read('partials'), write('out')])}
@compute @workgroup_size(1)
fn main() {
  var total = 0.0;
  for (var s = 0u; s < P.count; s++) { total = total + partials[s]; }
  out[0] = select(0.0, total / P.normalizer, P.normalizer > 0.0);
}`);
    this.runtime.dispatch(finishPipeline, [partials, out], [u32(groups), f32(normalizer)], [1, 1, 1]);
    this.runtime.release(partials);
  }

  /** gradInput[r, c] (+)= sign * (2 gradOut[0] / normalizer) * w_r * (pred - target)[r, c] (0 when normalizer <= 0) */
  mseRowsBackward(
    pred: GpuArray, target: GpuArray, weights: GpuArray | null, gradOut: GpuArray, gradInput: GpuArray,
    rows: number, cols: number, normalizer: number, sign: 1 | -1, accumulate: boolean,
  ): void {
    const n = rows * cols;
    const pipeline = this.runtime.pipeline('mseRowsBackward', () => elementwise(['cols: u32', 'weighted: u32', 'normalizer: f32', 'sign: f32', 'accumulate: u32'],
      [read('pred'), read('targets'), read('weights'), read('gradOut'), write('gradInput')], `
  let g = select(0.0, (2.0 * gradOut[0]) / P.normalizer, P.normalizer > 0.0);
  let w = select(1.0, weights[i / P.cols], P.weighted == 1u);
  let value = P.sign * g * w * (pred[i] - targets[i]);
  if (P.accumulate == 1u) { gradInput[i] = gradInput[i] + value; } else { gradInput[i] = value; }`));
    this.runtime.dispatch(pipeline, [pred, target, weights ?? this.placeholderArray(), gradOut, gradInput],
      [u32(n), u32(cols), flag(weights !== null), f32(normalizer), f32(sign), flag(accumulate)], this.runtime.grid(n, WORKGROUP_1D));
  }

  /**
   * out[0] = the number (as f32, exact below 2^24) of NaN and +-Inf elements over all arrays:
   * the weights check after an update, without reading the weights back.
   */
  nonFiniteCount(arrays: readonly { array: GpuArray; n: number }[], out: GpuArray): void {
    const counts = this.runtime.allocate(Math.max(1, arrays.length));
    const partials = this.runtime.allocate(WORKGROUP_1D);
    arrays.forEach(({ array, n }, slot) => {
      const groups = this.partialSums(array, n, partials, 'nonFinite');
      this.partialSums(partials, groups, counts, 'sum', slot);
    });
    this.runtime.release(partials);
    const totalPipeline = this.runtime.pipeline('sumSlots', () => `${header(['count: u32'], [read('counts'), write('out')])}
@compute @workgroup_size(1)
fn main() {
  var total = 0.0;
  for (var s = 0u; s < P.count; s++) { total = total + counts[s]; }
  out[0] = total;
}`);
    this.runtime.dispatch(totalPipeline, [counts, out], [u32(arrays.length)], [1, 1, 1]);
    this.runtime.release(counts);
  }

  /**
   * out[0] = 0 when loss[0] and norm[0] are both finite, else NaN: the guard of a device step's
   * update, so that a non-finite loss stops the update even when its gradient came out finite
   * (d(w + NaN)/dw = 1).
   */
  finiteGuard(loss: GpuArray, norm: GpuArray, out: GpuArray): void {
    const pipeline = this.runtime.pipeline('finiteGuard', () => `${header(['slot: u32'], [read('loss'), read('norm'), write('out')])}
${FLOAT_BITS}
@compute @workgroup_size(1)
fn main() {
  let ok = isFinite_(loss[0]) && isFinite_(norm[0]);
  out[P.slot] = select(nan_(loss[0]), 0.0, ok);
}`);
    this.runtime.dispatch(pipeline, [loss, norm, out], [u32(0)], [1, 1, 1]);
  }

  /**
   * One Adam / AdamW update in place, as Backend.adamUpdate. With `guard`, nothing is written
   * (param, m and v untouched) when guard[0] is NaN or +-Inf: a device training step refuses a
   * non-finite gradient (e.g. clipGradNorm's norm) without reading it back.
   */
  adamUpdate(param: GpuArray, grad: GpuArray, m: GpuArray, v: GpuArray, n: number, step: AdamStep, guard?: GpuArray): void {
    const guarded = guard !== undefined;
    const pipeline = this.runtime.pipeline(guarded ? 'adam:guarded' : 'adam', () => elementwise(
      ['lr: f32', 'beta1: f32', 'beta2: f32', 'oneMinusBeta1: f32', 'oneMinusBeta2: f32', 'eps: f32', 'weightDecay: f32',
        'decay: f32', 'biasCorrection1: f32', 'sqrtBiasCorrection2: f32', 'decoupled: u32'],
      [write('param'), read('grad'), write('m'), write('v'), ...(guarded ? [read('guard')] : [])], `
  ${guarded ? GUARD_CHECK : ''}
  let p = param[i];
  var g = grad[i];
  if (P.decoupled == 0u) { g += P.weightDecay * p; }
  let mi = P.beta1 * m[i] + P.oneMinusBeta1 * g;
  let vi = P.beta2 * v[i] + P.oneMinusBeta2 * g * g;
  m[i] = mi;
  v[i] = vi;
  let denom = sqrt(vi) / P.sqrtBiasCorrection2 + P.eps;
  param[i] = p * P.decay - P.lr * (mi / P.biasCorrection1 / denom);`, FLOAT_BITS));
    this.runtime.dispatch(pipeline, [param, grad, m, v, ...(guarded ? [guard] : [])], [u32(n), ...this.adamParams(step, step.decoupled)],
      this.runtime.grid(n, WORKGROUP_1D));
  }

  /**
   * One LAMB update (NVLAMB), as Backend.lambUpdate; the trust ratio's norms never leave the
   * device. With `guard`, nothing is written (param, m, v, update) when guard[0] is not finite.
   */
  lambUpdate(param: GpuArray, grad: GpuArray, m: GpuArray, v: GpuArray, update: GpuArray, n: number, step: AdamStep, guard?: GpuArray): void {
    const guarded = guard !== undefined;
    const guardArrays = guarded ? [guard] : [];
    const guardBindings = guarded ? [read('guard')] : [];
    const check = guarded ? GUARD_CHECK : '';
    const momentsPipeline = this.runtime.pipeline(guarded ? 'lambMoments:guarded' : 'lambMoments', () => elementwise(
      ['lr: f32', 'beta1: f32', 'beta2: f32', 'oneMinusBeta1: f32', 'oneMinusBeta2: f32', 'eps: f32', 'weightDecay: f32',
        'decay: f32', 'biasCorrection1: f32', 'sqrtBiasCorrection2: f32', 'decoupled: u32'],
      [read('param'), read('grad'), write('m'), write('v'), write('update'), ...guardBindings], `
  ${check}
  let g = grad[i];
  let mi = P.beta1 * m[i] + P.oneMinusBeta1 * g;
  let vi = P.beta2 * v[i] + P.oneMinusBeta2 * g * g;
  m[i] = mi;
  v[i] = vi;
  let denom = sqrt(vi) / P.sqrtBiasCorrection2 + P.eps;
  update[i] = mi / P.biasCorrection1 / denom + P.weightDecay * param[i];`, FLOAT_BITS));
    this.runtime.dispatch(momentsPipeline, [param, grad, m, v, update, ...guardArrays], [u32(n), ...this.adamParams(step, true)], this.runtime.grid(n, WORKGROUP_1D));
    const norms = this.runtime.allocate(2);
    this.sumSquaresInto(param, n, norms, 0);
    this.sumSquaresInto(update, n, norms, 1);
    const applyPipeline = this.runtime.pipeline(guarded ? 'lambApply:guarded' : 'lambApply', () => elementwise(['lr: f32'],
      [read('norms'), read('update'), write('param'), ...guardBindings], `
  ${check}
  let paramNorm = sqrt(norms[0]);
  let updateNorm = sqrt(norms[1]);
  let ratio = select(1.0, paramNorm / updateNorm, paramNorm > 0.0 && updateNorm > 0.0);
  param[i] -= P.lr * ratio * update[i];`, FLOAT_BITS));
    this.runtime.dispatch(applyPipeline, [norms, update, param, ...guardArrays], [u32(n), f32(step.lr)], this.runtime.grid(n, WORKGROUP_1D));
    this.runtime.release(norms);
  }

  /**
   * Global-norm clipping as nn/optim.ts clipGradNorm (torch's clip_grad_norm_): every gradient is
   * scaled by maxNorm / (norm + eps) when that is below 1, decided on the device. Returns a new
   * one-element array holding the norm before clipping (null maxNorm: only measure it). With
   * `guard`, the gradients are left untouched when guard[0] is NaN or +-Inf.
   */
  clipGradNorm(grads: readonly { array: GpuArray; n: number }[], maxNorm: number | null, eps = 1e-6, guard?: GpuArray): GpuArray {
    const squares = this.runtime.allocate(Math.max(1, grads.length));
    grads.forEach((grad, slot) => this.sumSquaresInto(grad.array, grad.n, squares, slot));
    const result = this.runtime.allocate(2);
    const normPipeline = this.runtime.pipeline('clipNorm', () => `${header(['count: u32', 'maxNorm: f32', 'eps: f32', 'clip: u32'], [read('squares'), write('result')])}
@compute @workgroup_size(1)
fn main() {
  var total = 0.0;
  for (var s = 0u; s < P.count; s++) { total += squares[s]; }
  let norm = sqrt(total);
  result[0] = norm;
  result[1] = select(1.0, P.maxNorm / (norm + P.eps), P.clip == 1u);
}`);
    this.runtime.dispatch(normPipeline, [squares, result], [u32(grads.length), f32(maxNorm ?? 0), f32(eps), flag(maxNorm !== null)], [1, 1, 1]);
    this.runtime.release(squares);
    if (maxNorm !== null) {
      const guarded = guard !== undefined;
      const scalePipeline = this.runtime.pipeline(guarded ? 'clipScale:guarded' : 'clipScale', () => elementwise([],
        [read('result'), write('x'), ...(guarded ? [read('guard')] : [])], `
  ${guarded ? GUARD_CHECK : ''}
  let coefficient = result[1];
  if (coefficient < 1.0) { x[i] *= coefficient; }`, FLOAT_BITS));
      for (const grad of grads) {
        this.runtime.dispatch(scalePipeline, [result, grad.array, ...(guarded ? [guard] : [])], [u32(grad.n)], this.runtime.grid(grad.n, WORKGROUP_1D));
      }
    }
    return result;
  }

  private adamParams(step: AdamStep, decoupled: boolean): Param[] {
    return [
      f32(step.lr), f32(step.beta1), f32(step.beta2), f32(1 - step.beta1), f32(1 - step.beta2), f32(step.eps), f32(step.weightDecay),
      f32(decoupled ? 1 - step.lr * step.weightDecay : 1), f32(step.biasCorrection1), f32(Math.sqrt(step.biasCorrection2)), flag(decoupled),
    ];
  }

  private placeholderArray(): GpuArray {
    this.placeholder ??= this.runtime.upload(new Float32Array(1));
    return this.placeholder;
  }
}
