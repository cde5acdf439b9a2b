/**
 * The generic WGSL kernels (fill, copyBlocks, unary, binary with broadcasting and its backward,
 * reduceTo, expand, mseRows), the batch upload, the optimizer guard and nonFiniteCount, against
 * `hostGenericKernels` (backends/generic.ts) on Float32Array host arrays, in Node on Dawn
 * (SwiftShader without a GPU: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json).
 *
 * The host runs on Float32Array, so it rounds to f32 at every store: where the kernel does the
 * same f32 operations in the same order (copies, fill, reduceTo, expand, one IEEE operation per
 * element, a sum of gradients times 1, -1 or 0) the result must be bit-identical (a float64
 * operation on two f32 values rounded to f32 is the f32 operation). Tolerances elsewhere are in
 * docs/engine.md. NaN must match NaN and +-Inf must match exactly everywhere.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AdamStep, BinaryKind, BroadcastLayout, ReduceLayout, UnaryKind } from '../../src/engine/backend.js';
import { hostGenericKernels as host } from '../../src/engine/backends/generic.js';
import { JsBackend } from '../../src/engine/backends/js.js';
import { GpuRuntime, type GpuArray } from '../../src/engine/webgpu/runtime.js';
import { WebGpuKernels } from '../../src/engine/webgpu/kernels.js';
import { requestNodeDevice } from '../../src/engine/webgpu/node.js';
import { randomArray, randomSource } from './webgpu-helpers.js';

const required = process.env.STITCH_REQUIRE_WEBGPU === '1';
const found = await requestNodeDevice();
const skip = found.ok ? false : `no WebGPU device (${found.reason}); set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json for SwiftShader`;
if (!found.ok) {
  if (required) {
    describe('webgpu generic kernels', () => {
      it('has a WebGPU device (STITCH_REQUIRE_WEBGPU=1)', () => assert.fail(found.reason));
    });
  } else {
    console.log(`# webgpu generic kernels skipped: ${found.reason}`);
  }
}

interface Tolerance { rtol: number; atol: number }
const EXACT: Tolerance = { rtol: 0, atol: 0 };
/** two f32 roundings where the host rounds once (values of order 1) */
const ROUNDING: Tolerance = { rtol: 2.5e-7, atol: 2.5e-7 };
/** WGSL's exp (3 + 2|x| ulp), log (3 ulp, 2^-21 absolute near 1), sqrt and division (2.5 ulp) */
const TRANSCENDENTAL: Tolerance = { rtol: 1.2e-6, atol: 5e-7 };
/** WGSL allows 2.5 ulp for x / y (a GPU may divide through a reciprocal) */
const DIVISION: Tolerance = { rtol: 3e-7, atol: 0 };
/** f32 sums where the host sums in float64 (mseRows) */
const REDUCTION: Tolerance = { rtol: 1e-5, atol: 1e-6 };

/** NaN matches NaN, infinities match exactly, finite values within atol + rtol |expected| (=== when exact) */
function assertMatches(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: Tolerance, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) || Number.isNaN(a)) {
      if (Number.isNaN(e) && Number.isNaN(a)) continue;
    } else if (a === e || (Number.isFinite(e) && Math.abs(a - e) <= tolerance.atol + tolerance.rtol * Math.abs(e))) {
      continue;
    }
    assert.fail(`${label}: element ${i} is ${a}, expected ${e}`);
  }
}

/** contiguous row-major strides of `shape`, 0 on the axes in `zero` */
function strides(shape: readonly number[], zero: readonly boolean[] = []): number[] {
  const out = new Array<number>(shape.length);
  let stride = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    if (zero[axis] === true) out[axis] = 0;
    else {
      out[axis] = stride;
      stride *= shape[axis]!;
    }
  }
  return out;
}

const count = (shape: readonly number[], stridesOf: readonly number[]): number =>
  shape.reduce((product, size, axis) => (stridesOf[axis] === 0 ? product : product * size), 1);

/** values of order 1 with NaN, +-Inf, 0 and -0 sprinkled in when `specials` */
function data(random: () => number, n: number, specials = false, scale = 1): Float32Array {
  const out = randomArray(random, n, scale);
  if (specials) {
    const values = [Number.NaN, Infinity, -Infinity, 0, -0];
    for (let i = 0; i < n; i++) if (random() < 0.08) out[i] = values[Math.floor(random() * values.length)]!;
  }
  return out;
}

describe('webgpu generic kernels against hostGenericKernels', { skip }, () => {
  let runtime: GpuRuntime;
  let gpu: WebGpuKernels;
  /** a runtime that launches at most 3 workgroups per grid dimension, to reach the 2-D grids with small arrays */
  let small: WebGpuKernels;
  const random = randomSource(20261203);

  before(() => {
    if (!found.ok) return;
    runtime = new GpuRuntime(found.device);
    gpu = new WebGpuKernels(runtime);
    small = new WebGpuKernels(new GpuRuntime(found.device, { maxWorkgroupsPerDimension: 3 }));
  });
  after(() => {
    if (found.ok) found.device.destroy();
  });

  const up = (kernels: WebGpuKernels, values: Float32Array | Int32Array): GpuArray => kernels.runtime.upload(values);
  const down = (kernels: WebGpuKernels, array: GpuArray): Promise<Float32Array> => kernels.runtime.read(array);

  /** random broadcast layouts of rank 0..6: each operand broadcast along random axes (or none) */
  function broadcastLayouts(): BroadcastLayout[] {
    const layouts: BroadcastLayout[] = [];
    for (let rank = 0; rank <= 6; rank++) {
      for (const mode of ['none', 'a', 'b', 'both'] as const) {
        const shape = Array.from({ length: rank }, () => 1 + Math.floor(random() * (rank > 4 ? 3 : 5)));
        const pick = (on: boolean): boolean[] => shape.map(() => on && random() < 0.5);
        layouts.push({ shape, aStrides: strides(shape, pick(mode === 'a' || mode === 'both')), bStrides: strides(shape, pick(mode === 'b' || mode === 'both')) });
      }
    }
    // more outputs than a workgroup, and a broadcast operand of more elements than a workgroup
    layouts.push({ shape: [3, 300], aStrides: [300, 1], bStrides: [0, 1] });
    layouts.push({ shape: [7, 5, 33], aStrides: [0, 33, 1], bStrides: [5, 1, 0] });
    // a scalar against a matrix, both ways
    layouts.push({ shape: [4, 9], aStrides: [0, 0], bStrides: [9, 1] });
    layouts.push({ shape: [4, 9], aStrides: [9, 1], bStrides: [0, 0] });
    return layouts;
  }

  it('fill and copyBlocks (overwrite and accumulate, odd widths, 2-D grids) are exact', async () => {
    for (const kernels of [gpu, small]) {
      const n = kernels === small ? 2000 : 777;
      const expected = data(random, n + 5);
      const x = up(kernels, expected);
      kernels.fill(x, -2.5, n);
      host.fill(expected, -2.5, n);
      assertMatches(await down(kernels, x), expected, EXACT, 'fill');

      for (const accumulate of [false, true]) {
        const blocks = kernels === small
          ? { count: 40, width: 51, srcOffset: 3, srcStride: 60, dstOffset: 1, dstStride: 51 }
          : { count: 7, width: 13, srcOffset: 2, srcStride: 13, dstOffset: 5, dstStride: 17 };
        const src = data(random, blocks.srcOffset + blocks.count * blocks.srcStride + 4, true);
        const dst = data(random, blocks.dstOffset + blocks.count * blocks.dstStride + 4);
        const dstGpu = up(kernels, dst);
        kernels.copyBlocks(up(kernels, src), dstGpu, blocks, accumulate);
        host.copyBlocks(src, dst, blocks, accumulate);
        assertMatches(await down(kernels, dstGpu), dst, EXACT, `copyBlocks accumulate=${accumulate}`);
      }
    }
    assert.throws(() => gpu.copyBlocks(runtime.allocate(10), runtime.allocate(10), { count: 2, width: 4, srcOffset: 0, srcStride: 4, dstOffset: 0, dstStride: 2 }, true),
      /destination blocks overlap/);
  });

  it('unary and unaryBackward: every kind, NaN/Inf/0 inputs, overwrite and accumulate', async () => {
    const kinds: UnaryKind[] = ['neg', 'exp', 'log', 'sqrt', 'square', 'abs', 'scale', 'addScalar', 'clip', 'expectileWeight'];
    const transcendental = new Set<UnaryKind>(['exp', 'log', 'sqrt']);
    const n = 1031;
    const [a, b] = [Math.fround(-0.3), Math.fround(0.45)];
    for (const kind of kinds) {
      const x = data(random, n, true, kind === 'exp' ? 3 : 2);
      if (kind === 'log' || kind === 'sqrt') for (let i = 0; i < n; i += 3) x[i] = Math.abs(x[i]!); // mostly in the domain
      const y = new Float32Array(n);
      const yGpu = runtime.allocate(n);
      const xGpu = up(gpu, x);
      gpu.unary(kind, xGpu, yGpu, n, a, b);
      host.unary(kind, x, y, n, a, b);
      const yDevice = await down(gpu, yGpu);
      assertMatches(yDevice, y, transcendental.has(kind) ? TRANSCENDENTAL : EXACT, `unary ${kind}`);
      for (const accumulate of [false, true]) {
        const gradOut = data(random, n, true);
        const gradX = data(random, n);
        const gradXGpu = up(gpu, gradX);
        // both sides use the host's y, so the backward is tested on its own
        gpu.unaryBackward(kind, xGpu, up(gpu, y), up(gpu, gradOut), gradXGpu, n, a, b, accumulate);
        host.unaryBackward(kind, x, y, gradOut, gradX, n, a, b, accumulate);
        const tolerance = kind === 'log' || kind === 'sqrt' ? TRANSCENDENTAL : accumulate && kind !== 'expectileWeight' ? ROUNDING : EXACT;
        assertMatches(await down(gpu, gradXGpu), gradX, tolerance, `unaryBackward ${kind} accumulate=${accumulate}`);
      }
    }
    // past the 1-D grid limit
    const x = data(random, 2000);
    const y = new Float32Array(2000);
    const yGpu = small.runtime.allocate(2000);
    small.unary('clip', up(small, x), yGpu, 2000, -0.5, 0.5);
    host.unary('clip', x, y, 2000, -0.5, 0.5);
    assertMatches(await down(small, yGpu), y, EXACT, 'unary clip on a 2-D grid');
  });

  it('binary and binaryBackward: every kind on rank 0..6 layouts, broadcasting either or both operands, NaN inputs, a === b', async () => {
    const kinds: BinaryKind[] = ['add', 'sub', 'mul', 'div', 'minimum', 'maximum'];
    const layouts = broadcastLayouts();
    for (const [index, layout] of layouts.entries()) {
      const kind = kinds[index % kinds.length]!;
      const label = `${kind} shape [${layout.shape.join(',')}] a [${layout.aStrides.join(',')}] b [${layout.bStrides.join(',')}]`;
      const n = layout.shape.reduce((p, s) => p * s, 1);
      const a = data(random, count(layout.shape, layout.aStrides), index % 3 === 0);
      const b = data(random, count(layout.shape, layout.bStrides), index % 5 === 0);
      if (kind === 'minimum' || kind === 'maximum') for (let i = 0; i < Math.min(a.length, b.length); i += 4) a[i] = b[i]!; // ties
      const out = new Float32Array(n);
      const outGpu = runtime.allocate(n);
      const [aGpu, bGpu] = [up(gpu, a), up(gpu, b)];
      gpu.binary(kind, aGpu, bGpu, outGpu, layout);
      host.binary(kind, a, b, out, layout);
      assertMatches(await down(gpu, outGpu), out, kind === 'div' ? DIVISION : EXACT, `binary ${label}`);
      const gradOut = data(random, n);
      for (const input of ['a', 'b'] as const) {
        for (const accumulate of [false, true]) {
          const gradInput = data(random, input === 'a' ? a.length : b.length);
          const gradGpu = up(gpu, gradInput);
          gpu.binaryBackward(kind, aGpu, bGpu, up(gpu, gradOut), gradGpu, input, layout, accumulate);
          host.binaryBackward(kind, a, b, gradOut, gradInput, input, layout, accumulate);
          // mul and div: the host multiplies gradOut by the derivative and adds in float64, rounding once
          const tolerance = kind === 'mul' ? { rtol: 1e-6, atol: 1e-6 } : kind === 'div' ? { rtol: 1e-5, atol: 1e-5 } : EXACT;
          assertMatches(await down(gpu, gradGpu), gradInput, tolerance, `binaryBackward ${label} input=${input} accumulate=${accumulate}`);
        }
      }
    }
    // a === b: mul(x, x) and its gradient through both operands, with one buffer bound once
    const layout = { shape: [5, 7], aStrides: [7, 1], bStrides: [7, 1] };
    const x = data(random, 35, true);
    const xGpu = up(gpu, x);
    const square = new Float32Array(35);
    const squareGpu = runtime.allocate(35);
    gpu.binary('mul', xGpu, xGpu, squareGpu, layout);
    host.binary('mul', x, x, square, layout);
    assertMatches(await down(gpu, squareGpu), square, EXACT, 'mul(x, x)');
    const gradOut = data(random, 35);
    const grad = new Float32Array(35);
    const gradGpu = runtime.allocate(35);
    for (const [input, accumulate] of [['a', false], ['b', true]] as const) {
      gpu.binaryBackward('mul', xGpu, xGpu, up(gpu, gradOut), gradGpu, input, layout, accumulate);
      host.binaryBackward('mul', x, x, gradOut, grad, input, layout, accumulate);
    }
    assertMatches(await down(gpu, gradGpu), grad, ROUNDING, 'the gradient of mul(x, x)');
    // past the 1-D grid limit, with a reduction of 2000 outputs onto 40 elements
    const wide = { shape: [50, 40], aStrides: [40, 1], bStrides: [0, 1] };
    const wa = data(random, 2000);
    const wb = data(random, 40);
    const wOut = new Float32Array(2000);
    const wOutGpu = small.runtime.allocate(2000);
    const [waGpu, wbGpu] = [up(small, wa), up(small, wb)];
    small.binary('sub', waGpu, wbGpu, wOutGpu, wide);
    host.binary('sub', wa, wb, wOut, wide);
    assertMatches(await down(small, wOutGpu), wOut, EXACT, 'binary on a 2-D grid');
    const wGrad = new Float32Array(2000);
    const wGradGpu = small.runtime.allocate(2000);
    small.binaryBackward('sub', waGpu, wbGpu, up(small, wOut), wGradGpu, 'a', wide, false);
    host.binaryBackward('sub', wa, wb, wOut, wGrad, 'a', wide, false);
    assertMatches(await down(small, wGradGpu), wGrad, EXACT, 'binaryBackward on a 2-D grid');
  });

  it('reduceTo and expand: leading, middle, trailing, all and no axes, rank 0..6, accumulate, exact', async () => {
    const cases: { shape: number[]; summed: boolean[] }[] = [
      { shape: [], summed: [] },
      { shape: [9], summed: [true] },
      { shape: [300, 3], summed: [true, false] },
      { shape: [3, 5, 7], summed: [false, true, false] },
      { shape: [4, 3, 70], summed: [false, false, true] },
      { shape: [2, 3, 2, 5, 3], summed: [true, true, true, true, true] },
      { shape: [2, 3, 1, 2, 3, 2], summed: [true, false, true, false, true, false] },
      { shape: [3, 2, 2, 3, 2, 2], summed: [false, false, false, false, false, false] },
      { shape: [5, 1, 4, 3], summed: [false, true, false, true] },
    ];
    for (const { shape, summed } of cases) {
      const layout: ReduceLayout = { shape, strides: strides(shape.map((s, axis) => (summed[axis] ? 1 : s)), summed) };
      const n = shape.reduce((p, s) => p * s, 1);
      const m = count(layout.shape, layout.strides);
      const label = `shape [${shape.join(',')}] strides [${layout.strides.join(',')}]`;
      const x = data(random, n, shape.length === 3);
      const xGpu = up(gpu, x);
      for (const accumulate of [false, true]) {
        const out = data(random, m);
        const outGpu = up(gpu, out);
        gpu.reduceTo(xGpu, outGpu, layout, accumulate);
        host.reduceTo(x, out, layout, accumulate);
        assertMatches(await down(gpu, outGpu), out, EXACT, `reduceTo ${label} accumulate=${accumulate}`);
        const small = data(random, m, true);
        const expanded = data(random, n);
        const expandedGpu = up(gpu, expanded);
        gpu.expand(up(gpu, small), expandedGpu, layout, accumulate);
        host.expand(small, expanded, layout, accumulate);
        assertMatches(await down(gpu, expandedGpu), expanded, EXACT, `expand ${label} accumulate=${accumulate}`);
      }
    }
    // a target whose axes are permuted (a transposed [3, 5] target under a [3, 4, 5] source)
    const permuted: ReduceLayout = { shape: [3, 4, 5], strides: [1, 0, 3] };
    const source = data(random, 60);
    const sourceGpu = up(gpu, source);
    for (const accumulate of [false, true]) {
      const out = data(random, 15);
      const outGpu = up(gpu, out);
      gpu.reduceTo(sourceGpu, outGpu, permuted, accumulate);
      host.reduceTo(source, out, permuted, accumulate);
      assertMatches(await down(gpu, outGpu), out, EXACT, `reduceTo onto a permuted target accumulate=${accumulate}`);
    }
    // past the 1-D grid limit (3 x 3 workgroups of 256): 2000 elements reduced to 1000 and expanded back
    const layout = { shape: [1000, 2], strides: [1, 0] };
    const x = data(random, 2000);
    const out = new Float32Array(1000);
    const outGpu = small.runtime.allocate(1000);
    small.reduceTo(up(small, x), outGpu, layout, false);
    host.reduceTo(x, out, layout, false);
    assertMatches(await down(small, outGpu), out, EXACT, 'reduceTo on a 2-D grid');
    const expanded = new Float32Array(2000);
    const expandedGpu = small.runtime.allocate(2000);
    small.expand(up(small, out), expandedGpu, layout, false);
    host.expand(out, expanded, layout, false);
    assertMatches(await down(small, expandedGpu), expanded, EXACT, 'expand on a 2-D grid');
    assert.throws(() => gpu.reduceTo(runtime.allocate(6), runtime.allocate(1), { shape: [1, 1, 1, 1, 1, 1, 6], strides: [0, 0, 0, 0, 0, 0, 0] }, false), /MAX_LAYOUT_RANK/);
  });

  it('mseRows and mseRowsBackward: weights or none, a zero-weight row with NaN skipped, normalizer 0, sign, accumulate', async () => {
    for (const [rows, cols] of [[1, 1], [37, 5], [700, 3]] as const) {
      const pred = data(random, rows * cols);
      const target = data(random, rows * cols);
      const weights = data(random, rows).map(Math.abs);
      weights[0] = 0;
      pred[0] = Number.NaN; // in the zero-weight row: the host skips it
      const [predGpu, targetGpu, weightsGpu] = [up(gpu, pred), up(gpu, target), up(gpu, weights)];
      for (const weighted of [true, false]) {
        for (const normalizer of [rows * cols, 0]) {
          const out = new Float32Array(1);
          const outGpu = runtime.allocate(1);
          gpu.mseRows(predGpu, targetGpu, weighted ? weightsGpu : null, outGpu, rows, cols, normalizer);
          host.mseRows(pred, target, weighted ? weights : null, out, rows, cols, normalizer);
          const label = `mseRows ${rows}x${cols} weighted=${weighted} normalizer=${normalizer}`;
          assertMatches(await down(gpu, outGpu), out, REDUCTION, label);
          if (!weighted && normalizer > 0) assert.ok(Number.isNaN(out[0]), `${label}: the unweighted NaN counts`);
          const gradOut = new Float32Array([Math.fround(0.7)]);
          for (const [sign, accumulate] of [[1, false], [-1, true]] as const) {
            const gradInput = data(random, rows * cols);
            const gradGpu = up(gpu, gradInput);
            gpu.mseRowsBackward(predGpu, targetGpu, weighted ? weightsGpu : null, up(gpu, gradOut), gradGpu, rows, cols, normalizer, sign, accumulate);
            host.mseRowsBackward(pred, target, weighted ? weights : null, gradOut, gradInput, rows, cols, normalizer, sign, accumulate);
            assertMatches(await down(gpu, gradGpu), gradInput, { rtol: 1e-6, atol: 1e-7 }, `${label} backward sign=${sign} accumulate=${accumulate}`);
          }
        }
      }
    }
  });

  it('uploadBatch sends several arrays in one writeBuffer, after the queued work, and they round-trip bit for bit', async () => {
    const floats = data(random, 1001, true);
    const ints = Int32Array.from({ length: 77 }, (_, i) => (i * 7919) - 300000);
    const window = data(random, 50).subarray(13, 30); // a view with a byte offset
    // program order: a queued dispatch reads `old`, whose buffer goes back to the pool and is
    // handed to the batch; the dispatch must still see the old values
    const oldValues = data(random, 40);
    const old = runtime.upload(oldValues);
    const negated = runtime.allocate(40);
    gpu.unary('neg', old, negated, 40, 0, 0);
    runtime.release(old);
    const before = { ...runtime.stats };
    const [reused] = runtime.uploadBatch([new Float32Array(40).fill(9)]);
    assert.equal(reused!.buffer, old.buffer, 'the pool hands the released buffer to the batch');
    assert.deepEqual(await runtime.read(negated), oldValues.map((v) => -v));
    assert.deepEqual(await runtime.read(reused!), new Float32Array(40).fill(9));
    assert.equal(runtime.stats.uploads - before.uploads, 1);
    const [f, i, empty, w] = runtime.uploadBatch([floats, ints, new Float32Array(0), window]);
    assert.equal(runtime.stats.uploads - before.uploads, 2, 'one writeBuffer for four arrays');
    assert.deepEqual([f!.length, i!.length, empty!.length, w!.length], [1001, 77, 0, 17]);
    const bits = (values: Float32Array): Int32Array => new Int32Array(values.buffer, values.byteOffset, values.length);
    assert.deepEqual(bits(await runtime.read(f!)), bits(floats));
    assert.deepEqual(bits(await runtime.read(i!)), ints);
    assert.deepEqual(bits(await runtime.read(w!)), bits(window));
    const singleWrites = runtime.stats.uploads;
    runtime.upload(floats);
    assert.equal(runtime.stats.uploads, singleWrites + 1, 'upload counts its writeBuffer');
  });

  it('the guard: adam, lamb and clipping write nothing when guard[0] is NaN or +-Inf, and act as unguarded otherwise', async () => {
    const js = new JsBackend();
    const n = 300;
    const step: AdamStep = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, decoupled: true, biasCorrection1: 0.1, biasCorrection2: 0.001 };
    const param = data(random, n);
    const grad = data(random, n);
    const m = data(random, n, false, 0.1);
    const v = data(random, n).map(Math.abs);
    const update = data(random, n);
    for (const guardValue of [Number.NaN, Infinity, -Infinity, 2.5]) {
      const guard = up(gpu, new Float32Array([guardValue]));
      const finite = Number.isFinite(guardValue);
      const arrays = [param, grad, m, v].map((values) => up(gpu, values));
      const [p, g, mm, vv] = arrays as [GpuArray, GpuArray, GpuArray, GpuArray];
      gpu.adamUpdate(p, g, mm, vv, n, step, guard);
      const expected = [param, m, v].map((values) => Float64Array.from(values));
      if (finite) js.adamUpdate(expected[0]!, Float64Array.from(grad), expected[1]!, expected[2]!, n, step);
      for (const [index, array] of [p, mm, vv].entries()) {
        assertMatches(await down(gpu, array), expected[index]!, finite ? { rtol: 1e-5, atol: 1e-6 } : EXACT, `adam guard=${guardValue} array ${index}`);
      }
      const lambArrays = [param, m, v, update].map((values) => up(gpu, values));
      gpu.lambUpdate(lambArrays[0]!, g, lambArrays[1]!, lambArrays[2]!, lambArrays[3]!, n, step, guard);
      const lambExpected = [param, m, v, update].map((values) => Float64Array.from(values));
      if (finite) js.lambUpdate(lambExpected[0]!, Float64Array.from(grad), lambExpected[1]!, lambExpected[2]!, lambExpected[3]!, n, step);
      for (const [index, array] of lambArrays.entries()) {
        assertMatches(await down(gpu, array), lambExpected[index]!, finite ? { rtol: 1e-5, atol: 1e-6 } : EXACT, `lamb guard=${guardValue} array ${index}`);
      }
      const large = data(random, n, false, 10);
      const largeGpu = up(gpu, large);
      const norm = gpu.clipGradNorm([{ array: largeGpu, n }], 1, 1e-6, guard);
      const total = Math.sqrt(large.reduce((sum, value) => sum + value * value, 0));
      assertMatches(await down(gpu, norm), [total, 1 / (total + 1e-6)], { rtol: 1e-5, atol: 0 }, 'the norm is measured either way');
      const scaled = finite ? large.map((value) => value / (total + 1e-6)) : large;
      assertMatches(await down(gpu, largeGpu), scaled, finite ? { rtol: 1e-5, atol: 1e-7 } : EXACT, `clip guard=${guardValue}`);
    }
  });

  it('nonFiniteCount counts NaN and +-Inf over several arrays, only within each n, across many workgroups', async () => {
    const a = data(random, 70000);
    a[5] = Number.NaN;
    a[69000] = Infinity;
    a[69999] = -Infinity; // past n below: not counted
    const b = data(random, 3);
    b[2] = Number.NaN;
    const c = data(random, 513);
    c[0] = -Infinity;
    c[512] = 3.4e38 * 10; // overflows to Inf in f32
    const out = runtime.allocate(1);
    gpu.nonFiniteCount([{ array: up(gpu, a), n: 69999 }, { array: up(gpu, b), n: 3 }, { array: up(gpu, c), n: 513 }], out);
    assert.deepEqual(await down(gpu, out), new Float32Array([5]));
    gpu.nonFiniteCount([{ array: up(gpu, data(random, 100)), n: 100 }], out);
    assert.deepEqual(await down(gpu, out), new Float32Array([0]));
    gpu.nonFiniteCount([], out);
    assert.deepEqual(await down(gpu, out), new Float32Array([0]));
  });
});
