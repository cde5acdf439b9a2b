/**
 * WGSL sources of the kernels. Every kernel reads its scalars from a uniform `Params` block at
 * binding 0 and its arrays from storage bindings 1, 2, ... in the order `kernels.ts` passes them.
 * Everything is f32 (u32 for counters, i32 for row indices): WGSL has no f64, so sums are f32
 * where the TypeScript reference sums in float64; the tests state the tolerance that costs.
 */
import type { Activation, BinaryKind, UnaryKind } from '../backend.js';

/** GEMM tile: TILE_M x TILE_N outputs per workgroup of 8 x 8 threads, 4 x 4 outputs per thread, TILE_K deep */
export const GEMM_TILE_M = 32;
export const GEMM_TILE_N = 32;
export const GEMM_TILE_K = 16;
/** threads per workgroup of the 1-D kernels and of the per-row reductions */
export const WORKGROUP_1D = 256;
export const WORKGROUP_ROW = 64;

export type Access = 'read' | 'read_write';
export interface Binding {
  name: string;
  access: Access;
  /** element type; f32 unless said */
  type?: 'f32' | 'i32';
}

/** The shared head of a kernel: the Params struct from `fields` ("name: type" each) and the bindings. */
export function header(fields: readonly string[], bindings: readonly Binding[]): string {
  const struct = `struct Params { ${fields.length > 0 ? fields.join(', ') : 'unused: u32'} }`;
  const lines = [struct, '@group(0) @binding(0) var<uniform> P: Params;'];
  bindings.forEach((binding, slot) => {
    lines.push(`@group(0) @binding(${slot + 1}) var<storage, ${binding.access}> ${binding.name}: array<${binding.type ?? 'f32'}>;`);
  });
  return lines.join('\n');
}

/** A 1-D kernel over i < P.n (P's first field is n), launched with `groups1d(n, WORKGROUP_1D)`. */
export function elementwise(fields: readonly string[], bindings: readonly Binding[], body: string, prelude = ''): string {
  return `${header(['n: u32', ...fields], bindings)}
${prelude}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.y * nwg.x * ${WORKGROUP_1D}u + gid.x;
  if (i >= P.n) { return; }
  ${body}
}`;
}

/**
 * Activation functions, f32. tanh is written through exp(-2|x|) so that it neither overflows nor
 * depends on the driver's builtin; erf is Abramowitz-Stegun 7.1.26 (absolute error < 1.5e-7);
 * log1p keeps its relative accuracy for tiny arguments (Goldberg's trick), which softplus needs.
 */
export const ACTIVATION_FUNCTIONS = /* wgsl */ `
fn tanh_(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  let t = (1.0 - e) / (1.0 + e);
  return select(-t, t, x >= 0.0);
}
fn erf_(x: f32) -> f32 {
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let y = 1.0 - poly * exp(-a * a);
  return select(-y, y, x >= 0.0);
}
fn log1p_(u: f32) -> f32 {
  let w = 1.0 + u;
  if (w == 1.0) { return u; }
  return log(w) * u / (w - 1.0);
}
fn softplus_(x: f32) -> f32 {
  if (x > 20.0) { return x; }
  return log1p_(exp(x));
}
const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_CUBIC: f32 = 0.044715;
const INV_SQRT_2: f32 = 0.7071067811865476;
const INV_SQRT_2PI: f32 = 0.3989422804014327;
`;

const ACTIVATION_VALUE: Record<Activation, string> = {
  relu: 'return select(0.0, x, x > 0.0);',
  tanh: 'return tanh_(x);',
  gelu_tanh: 'return 0.5 * x * (1.0 + tanh_(SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x)));',
  gelu_erf: 'return 0.5 * x * (1.0 + erf_(x * INV_SQRT_2));',
  mish: 'return x * tanh_(softplus_(x));',
};

const ACTIVATION_DERIVATIVE: Record<Activation, string> = {
  relu: 'return select(0.0, 1.0, x > 0.0);',
  tanh: 'let t = tanh_(x); return 1.0 - t * t;',
  gelu_tanh: `let t = tanh_(SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x));
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * x * x);`,
  gelu_erf: 'return 0.5 * (1.0 + erf_(x * INV_SQRT_2)) + x * INV_SQRT_2PI * exp(-0.5 * x * x);',
  mish: `let t = tanh_(softplus_(x));
  let sigmoid = 1.0 / (1.0 + exp(-x));
  return t + x * (1.0 - t * t) * sigmoid;`,
};

/** `act(x)` and `actDerivative(x)` for one activation */
export function activationPrelude(kind: Activation): string {
  return `${ACTIVATION_FUNCTIONS}
fn act(x: f32) -> f32 { ${ACTIVATION_VALUE[kind]} }
fn actDerivative(x: f32) -> f32 { ${ACTIVATION_DERIVATIVE[kind]} }`;
}

/**
 * The dropout stream of `dropoutKeep` (backend.ts), in u32 arithmetic (WGSL's u32 multiply wraps
 * like Math.imul). `threshold` = ceil(p * 2^24), so `(x >> 8) >= threshold` is exactly
 * `(x >>> 8) / 2^24 >= p` for every p, with no f32 rounding of p.
 */
export const DROPOUT_KEEP = /* wgsl */ `
fn dropoutKeep(seed: u32, index: u32, threshold: u32) -> bool {
  var x = index * 0x9e3779b1u + seed;
  x ^= x >> 16u;
  x *= 0x85ebca6bu;
  x ^= x >> 13u;
  x *= 0xc2b2ae35u;
  x ^= x >> 16u;
  return (x >> 8u) >= threshold;
}`;

/**
 * Tiled GEMM: C[z] = alpha * op(A[z]) op(B[z]) + beta * C[z]. Each workgroup stages a TILE_K-deep
 * slice of op(A) and op(B) in workgroup memory (transposes are resolved while loading, so the
 * inner loop is the same for all four combinations) and each thread accumulates 4 x 4 outputs.
 * Edges that do not fill a tile load zeros and skip their stores. beta = 0 never reads C (no NaN * 0).
 */
export function gemmSource(): string {
  const tm = GEMM_TILE_M;
  const tn = GEMM_TILE_N;
  const tk = GEMM_TILE_K;
  return `${header(
    ['m: u32', 'n: u32', 'k: u32', 'lda: u32', 'ldb: u32', 'ldc: u32', 'transA: u32', 'transB: u32',
      'strideA: u32', 'strideB: u32', 'strideC: u32', 'alpha: f32', 'beta: f32'],
    [{ name: 'A', access: 'read' }, { name: 'B', access: 'read' }, { name: 'C', access: 'read_write' }],
  )}
var<workgroup> tileA: array<f32, ${tk * tm}>;
var<workgroup> tileB: array<f32, ${tk * tn}>;
@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let rowBase = wg.y * ${tm}u;
  let colBase = wg.x * ${tn}u;
  let aOff = wg.z * P.strideA;
  let bOff = wg.z * P.strideB;
  let cOff = wg.z * P.strideC;
  let thread = lid.y * 8u + lid.x;
  var acc: array<f32, 16>;
  for (var p0 = 0u; p0 < P.k; p0 += ${tk}u) {
    for (var e = thread; e < ${tm * tk}u; e += 64u) {
      // transposed A is read along its rows (i fastest), plain A along p: loads stay contiguous
      var i = e / ${tk}u;
      var p = e % ${tk}u;
      if (P.transA == 1u) { i = e % ${tm}u; p = e / ${tm}u; }
      let gi = rowBase + i;
      let gp = p0 + p;
      var value = 0.0;
      if (gi < P.m && gp < P.k) {
        if (P.transA == 1u) { value = A[aOff + gp * P.lda + gi]; } else { value = A[aOff + gi * P.lda + gp]; }
      }
      tileA[p * ${tm}u + i] = value;
    }
    for (var e = thread; e < ${tn * tk}u; e += 64u) {
      var j = e % ${tn}u;
      var p = e / ${tn}u;
      if (P.transB == 1u) { j = e / ${tk}u; p = e % ${tk}u; }
      let gj = colBase + j;
      let gp = p0 + p;
      var value = 0.0;
      if (gj < P.n && gp < P.k) {
        if (P.transB == 1u) { value = B[bOff + gj * P.ldb + gp]; } else { value = B[bOff + gp * P.ldb + gj]; }
      }
      tileB[p * ${tn}u + j] = value;
    }
    workgroupBarrier();
    for (var p = 0u; p < ${tk}u; p++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var r = 0u; r < 4u; r++) { a[r] = tileA[p * ${tm}u + lid.y * 4u + r]; }
      for (var c = 0u; c < 4u; c++) { b[c] = tileB[p * ${tn}u + lid.x * 4u + c]; }
      for (var r = 0u; r < 4u; r++) {
        for (var c = 0u; c < 4u; c++) { acc[r * 4u + c] = fma(a[r], b[c], acc[r * 4u + c]); }
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < 4u; r++) {
    let gi = rowBase + lid.y * 4u + r;
    if (gi >= P.m) { continue; }
    for (var c = 0u; c < 4u; c++) {
      let gj = colBase + lid.x * 4u + c;
      if (gj >= P.n) { continue; }
      let index = cOff + gi * P.ldc + gj;
      var value = P.alpha * acc[r * 4u + c];
      if (P.beta != 0.0) { value += P.beta * C[index]; }
      C[index] = value;
    }
  }
}`;
}

/**
 * A workgroup tree reduction over WORKGROUP_ROW threads of `scratch` with `op` (sum or max);
 * every thread gets the result. Must be called in uniform control flow.
 */
export function rowReduction(name: string, op: 'sum' | 'max'): string {
  const combine = op === 'sum' ? 'scratch[t] + scratch[t + s]' : 'max(scratch[t], scratch[t + s])';
  return `
fn ${name}(value: f32, t: u32) -> f32 {
  workgroupBarrier();
  scratch[t] = value;
  workgroupBarrier();
  for (var s = ${WORKGROUP_ROW / 2}u; s > 0u; s >>= 1u) {
    if (t < s) { scratch[t] = ${combine}; }
    workgroupBarrier();
  }
  return scratch[0];
}`;
}

export const ROW_SCRATCH = `var<workgroup> scratch: array<f32, ${WORKGROUP_ROW}>;`;

/**
 * Float classification on the bits: a compiler may fold `x != x` to false (it may assume no NaN),
 * never an integer test. isFinite_ is false for NaN and +-Inf (exponent all ones).
 */
export const FLOAT_BITS = /* wgsl */ `
fn isNan_(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
fn isFinite_(v: f32) -> bool { return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u; }
// Math.min / Math.max: NaN if either is NaN (the NaN operand itself: a NaN constant does not
// compile), and min(0, -0) = -0, max(0, -0) = 0 (the sign bits of two equal values OR-ed, or
// AND-ed); WGSL's min and max leave both cases to the driver
// a quiet NaN made at run time (a NaN or infinite constant does not compile in WGSL)
fn nan_(x: f32) -> f32 { return bitcast<f32>(bitcast<u32>(x) | 0x7fc00000u); }
fn inf_(x: f32, negative: bool) -> f32 { return bitcast<f32>((bitcast<u32>(x) & 0u) | select(0x7f800000u, 0xff800000u, negative)); }
// exp, log and sqrt with Math.exp/log/sqrt's special values: WGSL leaves the builtins' results
// for NaN, infinities and out-of-domain arguments to the driver (SwiftShader's exp(NaN) is +Inf,
// its log(-x) is log(x))
fn exp_(x: f32) -> f32 {
  if (isNan_(x) || x == inf_(x, false)) { return x; }
  if (x == inf_(x, true)) { return 0.0; }
  return exp(x);
}
fn log_(x: f32) -> f32 {
  if (isNan_(x) || x == inf_(x, false)) { return x; }
  if (x < 0.0) { return nan_(x); }
  if (x == 0.0) { return inf_(x, true); }
  return log(x);
}
fn sqrt_(x: f32) -> f32 {
  if (isNan_(x) || x == inf_(x, false) || x == 0.0) { return x; }
  if (x < 0.0) { return nan_(x); }
  return sqrt(x);
}
fn minimum_(x: f32, y: f32) -> f32 {
  if (isNan_(x)) { return x; }
  if (isNan_(y)) { return y; }
  if (x == y) { return bitcast<f32>(bitcast<u32>(x) | bitcast<u32>(y)); }
  return select(y, x, x < y);
}
fn maximum_(x: f32, y: f32) -> f32 {
  if (isNan_(x)) { return x; }
  if (isNan_(y)) { return y; }
  if (x == y) { return bitcast<f32>(bitcast<u32>(x) & bitcast<u32>(y)); }
  return select(y, x, x > y);
}`;

/**
 * unaryValue (backends/generic.ts) in WGSL, on the input `x` and the parameters P.a, P.b (needs
 * FLOAT_BITS). The selects keep the host's comparison order, so NaN falls through as it does
 * there (clip(NaN) is NaN). exp, log and sqrt go through FLOAT_BITS's IEEE wrappers.
 */
export const UNARY_VALUE: Record<UnaryKind, (x: string) => string> = {
  neg: (x) => `-${x}`,
  exp: (x) => `exp_(${x})`,
  log: (x) => `log_(${x})`,
  sqrt: (x) => `sqrt_(${x})`,
  square: (x) => `${x} * ${x}`,
  abs: (x) => `abs(${x})`,
  scale: (x) => `${x} * P.a`,
  addScalar: (x) => `${x} + P.a`,
  clip: (x) => `select(select(${x}, P.b, ${x} > P.b), P.a, ${x} < P.a)`,
  expectileWeight: (x) => `abs(P.a - select(0.0, 1.0, ${x} < 0.0))`,
};

/**
 * unaryDerivative in WGSL from the input x and the output y; abs's is Math.sign (0 at 0, NaN at
 * NaN). expectileWeight's 0 is the uniform P.zero: a literal 0.0 lets the compiler fold
 * gradOut * 0.0 to 0, where the host gives NaN for a NaN or infinite gradient.
 */
export const UNARY_DERIVATIVE: Record<UnaryKind, (x: string, y: string) => string> = {
  neg: () => '-1.0',
  exp: (_x, y) => y,
  log: (x) => `1.0 / ${x}`,
  sqrt: (_x, y) => `0.5 / ${y}`,
  square: (x) => `2.0 * ${x}`,
  abs: (x) => `select(select(${x}, -1.0, ${x} < 0.0), 1.0, ${x} > 0.0)`,
  scale: () => 'P.a',
  addScalar: () => '1.0',
  clip: (x) => `select(0.0, 1.0, ${x} >= P.a && ${x} <= P.b)`,
  expectileWeight: () => 'P.zero',
};

/** binaryValue on x0 = a[offA], y0 = b[offB] (FLOAT_BITS for minimum and maximum) */
export const BINARY_VALUE: Record<BinaryKind, string> = {
  add: 'x0 + y0',
  sub: 'x0 - y0',
  mul: 'x0 * y0',
  div: 'x0 / y0',
  minimum: 'minimum_(x0, y0)',
  maximum: 'maximum_(x0, y0)',
};

/** binaryDerivative on x0, y0; ties of minimum and maximum send the gradient to a, NaN to b (as the host's) */
export const BINARY_DERIVATIVE: Record<BinaryKind, Record<'a' | 'b', string>> = {
  add: { a: '1.0', b: '1.0' },
  sub: { a: '1.0', b: '-1.0' },
  mul: { a: 'y0', b: 'x0' },
  div: { a: '1.0 / y0', b: '-x0 / (y0 * y0)' },
  minimum: { a: 'select(0.0, 1.0, x0 <= y0)', b: 'select(1.0, 0.0, x0 <= y0)' },
  maximum: { a: 'select(0.0, 1.0, x0 >= y0)', b: 'select(1.0, 0.0, x0 >= y0)' },
};
