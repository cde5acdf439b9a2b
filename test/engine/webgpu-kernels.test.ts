/**
 * The WGSL kernels (src/engine/webgpu) against the TypeScript reference (JsBackend), in Node on
 * Dawn. Without a GPU, Dawn runs on SwiftShader: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json.
 * Skips with the reason when no adapter is available, unless STITCH_REQUIRE_WEBGPU=1 (CI), where that fails.
 *
 * Tolerances: the kernels compute in f32 and the reference runs in float64 on the same f32 inputs,
 * so each bound is a few f32 rounding errors (u = 2^-24 ~ 6e-8) of the operation's size:
 * - GEMM: k-term dot products, |error| <= 2u (k + 2) (|alpha| |A||B| + |beta C|) elementwise (the classic bound).
 * - reductions (sumRows, sumSquares, LayerNorm, attention, norms): relative 1e-5 plus an absolute 1e-5..1e-6 floor
 *   for cancellation, because the sums are f32 in a different order (trees) where the reference sums in float64.
 * - activations: 1e-5 relative + 2e-6 absolute: erf is a 1.5e-7 approximation and tanh goes through exp.
 * - elementwise add/axpy/scale/dropout: 2 ulp (3e-7 relative): one or two f32 roundings.
 * - dropout masks, gatherRows and scatterAddRows: exact (integer hash; same additions in the same order).
 * - Adam/AdamW/LAMB: 1e-5 relative + 1e-6 absolute: f32 arithmetic of a ten-step formula.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dropoutKeep, type Activation, type AdamStep, type AttentionShape } from '../../src/engine/backend.js';
import { JsBackend } from '../../src/engine/backends/js.js';
import { GpuRuntime, type GpuArray } from '../../src/engine/webgpu/runtime.js';
import { WebGpuKernels } from '../../src/engine/webgpu/kernels.js';
import { requestNodeDevice } from '../../src/engine/webgpu/node.js';
import { assertClose, randomArray, randomSource, toFloat64 } from './webgpu-helpers.js';

const required = process.env.STITCH_REQUIRE_WEBGPU === '1';
const found = await requestNodeDevice();
const skip = found.ok ? false : `no WebGPU device (${found.reason}); set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json for SwiftShader`;
if (!found.ok) {
  if (required) {
    describe('webgpu kernels', () => {
      it('has a WebGPU device (STITCH_REQUIRE_WEBGPU=1)', () => assert.fail(found.reason));
    });
  } else {
    console.log(`# webgpu kernels skipped: ${found.reason}`);
  }
}

const F32_ULP = 2 ** -24;
const REDUCTION = { rtol: 1e-5, atol: 1e-5 };
const ELEMENTWISE = { rtol: 3e-7, atol: 1e-30 };
const ACTIVATION = { rtol: 1e-5, atol: 2e-6 };
const OPTIMIZER = { rtol: 1e-5, atol: 1e-6 };
const EXACT = { rtol: 0, atol: 0 };
const ACTIVATIONS: Activation[] = ['relu', 'gelu_tanh', 'gelu_erf', 'tanh', 'mish'];

describe('webgpu kernels against the js reference', { skip }, () => {
  const js = new JsBackend();
  let runtime: GpuRuntime;
  let gpu: WebGpuKernels;
  const random = randomSource(20261202);

  before(() => {
    if (!found.ok) return;
    runtime = new GpuRuntime(found.device);
    gpu = new WebGpuKernels(runtime);
  });
  after(() => {
    if (found.ok) found.device.destroy();
  });

  const up = (data: Float32Array | Int32Array): GpuArray => runtime.upload(data);
  const down = (array: GpuArray): Promise<Float32Array> => runtime.read(array);

  it('gemm: all transposes, odd sizes, padded leading dimensions, alpha/beta and batching', async () => {
    const shapes: [number, number, number][] = [[1, 1, 1], [33, 17, 45], [5, 70, 3], [64, 32, 16], [31, 33, 40]];
    for (const [m, n, k] of shapes) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          for (const [alpha, beta] of [[1, 0], [0.7, 1.3]] as const) {
            const count = m === 5 ? 3 : 1;
            const pad = 2;
            const lda = (transA ? m : k) + pad;
            const ldb = (transB ? k : n) + pad;
            const ldc = n + 1;
            const aRows = transA ? k : m;
            const bRows = transB ? n : k;
            const batch = { count, strideA: aRows * lda + 3, strideB: bRows * ldb, strideC: m * ldc };
            const a = randomArray(random, count * batch.strideA);
            const b = randomArray(random, count * batch.strideB);
            const c = randomArray(random, count * batch.strideC);
            if (beta === 0) c.fill(Number.NaN); // beta = 0 must overwrite, never read
            const expected = toFloat64(c);
            js.gemm(transA, transB, m, n, k, alpha, toFloat64(a), lda, toFloat64(b), ldb, beta, expected, ldc, batch);
            // the rounding bound needs sum |a||b| per output: the same product on absolute values
            const magnitude = new Float64Array(c.length);
            js.gemm(transA, transB, m, n, k, Math.abs(alpha), toFloat64(a).map(Math.abs), lda, toFloat64(b).map(Math.abs), ldb, 0, magnitude, ldc, batch);
            const bound = magnitude.map((value, i) => 2 * F32_ULP * (k + 2) * (value + (beta === 0 ? 0 : Math.abs(beta * (c[i] as number)))) + 1e-30);
            const cGpu = up(c);
            gpu.gemm(transA, transB, m, n, k, alpha, up(a), lda, up(b), ldb, beta, cGpu, ldc, batch);
            const actual = await down(cGpu);
            // entries outside the m x n windows keep their (NaN) values in both
            const label = `gemm ${m}x${n}x${k} transA=${transA} transB=${transB} alpha=${alpha} beta=${beta} count=${count}`;
            assertClose(actual.map((v, i) => (Number.isNaN(expected[i] as number) ? 0 : v)), expected.map((v) => (Number.isNaN(v) ? 0 : v)),
              { rtol: 0, atol: 0, bound }, label);
          }
        }
      }
    }
  });

  it('gemmPair runs both products', async () => {
    const calls = [
      { transA: false, transB: true, m: 7, n: 9, k: 11, alpha: 1, beta: 0 },
      { transA: true, transB: false, m: 3, n: 35, k: 5, alpha: -2, beta: 0.5 },
    ].map((shape) => {
      const lda = shape.transA ? shape.m : shape.k;
      const ldb = shape.transB ? shape.k : shape.n;
      return { ...shape, lda, ldb, ldc: shape.n, a: randomArray(random, shape.m * shape.k), b: randomArray(random, shape.k * shape.n), c: randomArray(random, shape.m * shape.n) };
    });
    const expected = calls.map((call) => ({ ...call, a: toFloat64(call.a), b: toFloat64(call.b), c: toFloat64(call.c) }));
    js.gemmPair(expected[0]!, expected[1]!);
    const onDevice = calls.map((call) => ({ ...call, a: up(call.a), b: up(call.b), c: up(call.c) }));
    gpu.gemmPair(onDevice[0]!, onDevice[1]!);
    for (const [index, call] of onDevice.entries()) {
      assertClose(await down(call.c), expected[index]!.c, { rtol: 1e-5, atol: 1e-5 }, `gemmPair product ${index}`);
    }
  });

  it('addBiasRows, sumRows (overwrite and accumulate), add (with aliasing), axpy, scale', async () => {
    const rows = 37;
    const cols = 19;
    const x = randomArray(random, rows * cols);
    const bias = randomArray(random, cols);
    const expectedX = toFloat64(x);
    js.addBiasRows(expectedX, toFloat64(bias), rows, cols);
    const xGpu = up(x);
    gpu.addBiasRows(xGpu, up(bias), rows, cols);
    assertClose(await down(xGpu), expectedX, ELEMENTWISE, 'addBiasRows');

    for (const accumulate of [false, true]) {
      const out = randomArray(random, cols);
      const expected = toFloat64(out);
      js.sumRows(toFloat64(x), rows, cols, expected, accumulate);
      const outGpu = up(out);
      gpu.sumRows(up(x), rows, cols, outGpu, accumulate);
      assertClose(await down(outGpu), expected, REDUCTION, `sumRows accumulate=${accumulate}`);
    }

    const n = 1000;
    const a = randomArray(random, n);
    const b = randomArray(random, n);
    const sum = new Float64Array(n);
    js.add(toFloat64(a), toFloat64(b), sum, n);
    const aGpu = up(a);
    const bGpu = up(b);
    const outGpu = up(new Float32Array(n));
    gpu.add(aGpu, bGpu, outGpu, n);
    assertClose(await down(outGpu), sum, ELEMENTWISE, 'add');
    gpu.add(aGpu, bGpu, aGpu, n); // out aliases a
    assertClose(await down(aGpu), sum, ELEMENTWISE, 'add into a');
    gpu.add(bGpu, bGpu, bGpu, n); // everything aliased
    assertClose(await down(bGpu), toFloat64(b).map((v) => 2 * v), ELEMENTWISE, 'add b + b into b');

    const y = randomArray(random, n);
    const expectedY = toFloat64(y);
    js.axpy(-0.37, toFloat64(a), expectedY, n);
    const yGpu = up(y);
    gpu.axpy(-0.37, up(a), yGpu, n);
    assertClose(await down(yGpu), expectedY, { rtol: 3e-7, atol: 3e-7 }, 'axpy');
    gpu.scale(yGpu, 2.5, n);
    js.scale(expectedY, 2.5, n);
    assertClose(await down(yGpu), expectedY, { rtol: 6e-7, atol: 6e-7 }, 'scale');
  });

  it('sumSquares: one workgroup, many, and more elements than the grid covers in one pass', async () => {
    for (const n of [1, 255, 257, 4099, 70001]) {
      const x = randomArray(random, n);
      const result = gpu.sumSquares(up(x), n);
      const [actual] = await down(result);
      assertClose([actual as number], [js.sumSquares(toFloat64(x), n)], REDUCTION, `sumSquares n=${n}`);
    }
  });

  it('the five activations forward and backward, and the fused bias + activation', async () => {
    const rows = 13;
    const cols = 21;
    const n = rows * cols;
    const x = randomArray(random, n, 4);
    // the edges: zero and the large arguments where exp overflows or softplus switches branch
    x.set([0, 20, -20, 30, -30, 1e-4, -1e-4, 19.9, 20.1]);
    const gradOut = randomArray(random, n);
    for (const kind of ACTIVATIONS) {
      const expected = new Float64Array(n);
      js.activation(kind, toFloat64(x), expected, n);
      const out = up(new Float32Array(n));
      gpu.activation(kind, up(x), out, n);
      assertClose(await down(out), expected, ACTIVATION, `${kind} forward`);

      for (const accumulate of [false, true]) {
        const gradX = randomArray(random, n);
        const expectedGrad = toFloat64(gradX);
        js.activationBackward(kind, toFloat64(x), toFloat64(gradOut), expectedGrad, n, accumulate);
        const gradGpu = up(gradX);
        gpu.activationBackward(kind, up(x), up(gradOut), gradGpu, n, accumulate);
        assertClose(await down(gradGpu), expectedGrad, ACTIVATION, `${kind} backward accumulate=${accumulate}`);
      }

      const bias = randomArray(random, cols);
      const expectedPre = toFloat64(x);
      const expectedOut = new Float64Array(n);
      js.biasActivation(kind, expectedPre, toFloat64(bias), expectedOut, rows, cols);
      const preGpu = up(x);
      const outGpu = up(new Float32Array(n));
      gpu.biasActivation(kind, preGpu, up(bias), outGpu, rows, cols);
      assertClose(await down(preGpu), expectedPre, ELEMENTWISE, `${kind} biasActivation pre-activation`);
      assertClose(await down(outGpu), expectedOut, ACTIVATION, `${kind} biasActivation output`);

      const biasGrad = randomArray(random, cols);
      const expectedBiasGrad = toFloat64(biasGrad);
      const expectedGradX = new Float64Array(n);
      js.activationBackwardBias(kind, toFloat64(x), toFloat64(gradOut), expectedGradX, expectedBiasGrad, rows, cols, true);
      const gradXGpu = up(randomArray(random, n));
      const biasGradGpu = up(biasGrad);
      gpu.activationBackwardBias(kind, up(x), up(gradOut), gradXGpu, biasGradGpu, rows, cols, true);
      assertClose(await down(gradXGpu), expectedGradX, ACTIVATION, `${kind} activationBackwardBias gradX`);
      assertClose(await down(biasGradGpu), expectedBiasGrad, { rtol: 1e-5, atol: 2e-5 }, `${kind} activationBackwardBias biasGrad`);
    }
  });

  it('dropout draws exactly the CPU backends\' mask (forward, in place, backward)', async () => {
    const n = 10007;
    const x = randomArray(random, n).map((v) => v + 2); // never 0, so a 0 output means dropped
    for (const [p, seed] of [[0.1, 7], [0.5, 123456789], [1 / 3, 4294967295], [0, 99], [0.9, -5]] as const) {
      const expected = new Float64Array(n);
      js.dropout(toFloat64(x), expected, n, p, seed);
      const outGpu = up(new Float32Array(n));
      gpu.dropout(up(x), outGpu, n, p, seed);
      const actual = await down(outGpu);
      const dropped = (values: ArrayLike<number>): number[] => Array.from(values, (v) => (v === 0 ? 1 : 0));
      assert.deepEqual(dropped(actual), dropped(expected), `dropout mask p=${p} seed=${seed}`);
      assertClose(actual, expected, ELEMENTWISE, `dropout values p=${p}`);
      let kept = 0;
      for (let i = 0; i < n; i++) if (dropoutKeep(seed, i, p)) kept += 1;
      assert.equal(dropped(actual).filter((d) => d === 0).length, kept);

      const inPlace = up(x);
      gpu.dropout(inPlace, inPlace, n, p, seed);
      assert.deepEqual(dropped(await down(inPlace)), dropped(expected), `in-place dropout mask p=${p}`);

      const gradOut = randomArray(random, n);
      const gradX = randomArray(random, n);
      const expectedGrad = toFloat64(gradX);
      js.dropoutBackward(toFloat64(gradOut), expectedGrad, n, p, seed, true);
      const gradGpu = up(gradX);
      gpu.dropoutBackward(up(gradOut), gradGpu, n, p, seed, true);
      assertClose(await down(gradGpu), expectedGrad, { rtol: 3e-7, atol: 3e-7 }, `dropoutBackward p=${p}`);
    }
  });

  it('LayerNorm forward and backward (rows wider and narrower than a workgroup)', async () => {
    for (const [rows, cols] of [[9, 5], [6, 130], [1, 64]] as const) {
      const x = randomArray(random, rows * cols, 3);
      const gamma = randomArray(random, cols);
      const beta = randomArray(random, cols);
      const out = new Float64Array(rows * cols);
      const mean = new Float64Array(rows);
      const rstd = new Float64Array(rows);
      js.layerNorm(toFloat64(x), toFloat64(gamma), toFloat64(beta), out, mean, rstd, rows, cols, 1e-5);
      const xGpu = up(x);
      const gammaGpu = up(gamma);
      const outGpu = up(new Float32Array(rows * cols));
      const meanGpu = up(new Float32Array(rows));
      const rstdGpu = up(new Float32Array(rows));
      gpu.layerNorm(xGpu, gammaGpu, up(beta), outGpu, meanGpu, rstdGpu, rows, cols, 1e-5);
      assertClose(await down(outGpu), out, REDUCTION, `layerNorm out ${rows}x${cols}`);
      assertClose(await down(meanGpu), mean, REDUCTION, 'layerNorm mean');
      assertClose(await down(rstdGpu), rstd, REDUCTION, 'layerNorm rstd');

      const gradOut = randomArray(random, rows * cols);
      const gradX = randomArray(random, rows * cols);
      const gradGamma = randomArray(random, cols);
      const gradBeta = randomArray(random, cols);
      const expected = { x: toFloat64(gradX), gamma: toFloat64(gradGamma), beta: toFloat64(gradBeta) };
      js.layerNormBackward(toFloat64(x), toFloat64(gamma), mean, rstd, toFloat64(gradOut), expected.x, expected.gamma, expected.beta, rows, cols, true);
      const gradXGpu = up(gradX);
      const gradGammaGpu = up(gradGamma);
      const gradBetaGpu = up(gradBeta);
      gpu.layerNormBackward(xGpu, gammaGpu, meanGpu, rstdGpu, up(gradOut), gradXGpu, gradGammaGpu, gradBetaGpu, rows, cols, true);
      assertClose(await down(gradXGpu), expected.x, { rtol: 1e-4, atol: 1e-5 }, 'layerNorm gradX');
      assertClose(await down(gradGammaGpu), expected.gamma, REDUCTION, 'layerNorm gradGamma');
      assertClose(await down(gradBetaGpu), expected.beta, REDUCTION, 'layerNorm gradBeta');
    }
  });

  it('fused attention forward and backward: causal, key padding, a query that sees nothing, dropout, more tokens than a workgroup', async () => {
    const cases: { shape: AttentionShape; masked: boolean }[] = [
      { shape: { batch: 2, tokens: 7, heads: 3, headDim: 5, causal: true, dropout: 0.2, seed: 31337 }, masked: true },
      { shape: { batch: 1, tokens: 70, heads: 2, headDim: 9, causal: false, dropout: 0, seed: 0 }, masked: false },
      { shape: { batch: 3, tokens: 4, heads: 1, headDim: 16, causal: false, dropout: 0.1, seed: 5 }, masked: true },
    ];
    for (const { shape, masked } of cases) {
      const { batch, tokens, heads, headDim } = shape;
      const width = heads * headDim;
      const qkv = randomArray(random, batch * tokens * 3 * width, 2);
      let keyMask: Float32Array | null = null;
      if (masked) {
        keyMask = new Float32Array(batch * tokens).fill(1);
        keyMask[0] = 0; // batch 0: the first key is padding, so under the causal mask query 0 sees no key
        keyMask[tokens + tokens - 1] = 0; // batch 1: the last key is padding
      }
      const probs = new Float64Array(batch * heads * tokens * tokens);
      const out = new Float64Array(batch * tokens * width);
      js.attention(toFloat64(qkv), keyMask === null ? null : toFloat64(keyMask), probs, out, shape);
      const qkvGpu = up(qkv);
      const probsGpu = up(new Float32Array(probs.length));
      const outGpu = up(new Float32Array(out.length));
      gpu.attention(qkvGpu, keyMask === null ? null : up(keyMask), probsGpu, outGpu, shape);
      const label = `attention b${batch} t${tokens} h${heads} d${headDim} causal=${shape.causal} dropout=${shape.dropout}`;
      const probsActual = await down(probsGpu);
      assertClose(probsActual, probs, REDUCTION, `${label} probs`);
      assert.deepEqual(Array.from(probsActual, (p) => p === 0), Array.from(probs, (p) => p === 0), `${label}: masked probabilities exactly 0`);
      assertClose(await down(outGpu), out, REDUCTION, `${label} out`);

      const gradOut = randomArray(random, out.length);
      for (const accumulate of [false, true]) {
        const gradQkv = randomArray(random, qkv.length);
        const expected = toFloat64(gradQkv);
        js.attentionBackward(toFloat64(qkv), probs, toFloat64(gradOut), expected, shape, accumulate);
        const gradGpu = up(gradQkv);
        // the backward reads the kernel's own probabilities, as it will in training
        gpu.attentionBackward(qkvGpu, probsGpu, up(gradOut), gradGpu, shape, accumulate);
        assertClose(await down(gradGpu), expected, { rtol: 1e-4, atol: 2e-5 }, `${label} gradQkv accumulate=${accumulate}`);
      }
    }
  });

  it('gatherRows and scatterAddRows match exactly (repeated indices, odd widths)', async () => {
    const tableRows = 11;
    const cols = 7;
    const index = Int32Array.from({ length: 29 }, (_, r) => (r * 5 + (r % 3)) % tableRows);
    index[3] = index[4] = index[5] = 2;
    const table = randomArray(random, tableRows * cols);
    const out = new Float32Array(index.length * cols);
    js.gatherRows(table, index, out, cols);
    const indexGpu = up(index);
    const outGpu = up(new Float32Array(out.length));
    gpu.gatherRows(up(table), indexGpu, outGpu, index.length, cols);
    assertClose(await down(outGpu), out, EXACT, 'gatherRows');

    const gradOut = randomArray(random, index.length * cols);
    const gradTable = randomArray(random, tableRows * cols);
    const expected = Float32Array.from(gradTable);
    js.scatterAddRows(gradOut, index, expected, cols); // float32 like the kernel: same additions, same order
    const gradTableGpu = up(gradTable);
    gpu.scatterAddRows(up(gradOut), indexGpu, gradTableGpu, index.length, cols);
    assertClose(await down(gradTableGpu), expected, EXACT, 'scatterAddRows');
  });

  it('Adam, AdamW and LAMB updates, several steps', async () => {
    const n = 1031;
    for (const variant of ['adam', 'adamw', 'lamb'] as const) {
      const param = randomArray(random, n);
      const m = new Float32Array(n);
      const v = new Float32Array(n);
      const expected = { param: toFloat64(param), m: new Float64Array(n), v: new Float64Array(n) };
      const gpuState = { param: up(param), m: up(m), v: up(v), update: up(new Float32Array(n)) };
      for (let t = 1; t <= 3; t++) {
        const grad = randomArray(random, n, 0.1);
        const step: AdamStep = {
          lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: variant !== 'adam',
          biasCorrection1: 1 - 0.9 ** t, biasCorrection2: 1 - 0.999 ** t,
        };
        if (variant === 'lamb') {
          js.lambUpdate(expected.param, toFloat64(grad), expected.m, expected.v, new Float64Array(n), n, step);
          gpu.lambUpdate(gpuState.param, up(grad), gpuState.m, gpuState.v, gpuState.update, n, step);
        } else {
          js.adamUpdate(expected.param, toFloat64(grad), expected.m, expected.v, n, step);
          gpu.adamUpdate(gpuState.param, up(grad), gpuState.m, gpuState.v, n, step);
        }
      }
      assertClose(await down(gpuState.param), expected.param, OPTIMIZER, `${variant} param`);
      assertClose(await down(gpuState.m), expected.m, OPTIMIZER, `${variant} m`);
      assertClose(await down(gpuState.v), expected.v, { rtol: 1e-5, atol: 1e-9 }, `${variant} v`);
    }
  });

  it('global-norm clipping scales by maxNorm / (norm + eps) only below 1, and reports the norm', async () => {
    const sizes = [5, 300, 1];
    const grads = sizes.map((n) => randomArray(random, n));
    const norm = Math.sqrt(grads.reduce((total, g) => total + js.sumSquares(toFloat64(g), g.length), 0));
    for (const maxNorm of [norm / 3, norm * 2, null]) {
      const arrays = grads.map((g) => ({ array: up(g), n: g.length }));
      const result = await down(gpu.clipGradNorm(arrays, maxNorm));
      assertClose([result[0] as number], [norm], REDUCTION, 'clip norm');
      const coefficient = maxNorm === null ? 1 : maxNorm / (norm + 1e-6);
      for (const [slot, g] of grads.entries()) {
        const expected = toFloat64(g).map((value) => (coefficient < 1 ? value * coefficient : value));
        assertClose(await down(arrays[slot]!.array), expected, { rtol: 1e-5, atol: 1e-7 }, `clipped gradient ${slot} maxNorm=${maxNorm}`);
      }
    }
  });

  it('the runtime compiles each pipeline once, reuses pooled buffers and batches dispatches into one submit', async () => {
    const n = 100;
    const x = up(randomArray(random, n));
    gpu.scale(x, 2, n);
    await down(x);
    const before = { ...runtime.stats };
    for (let i = 0; i < 5; i++) gpu.scale(x, 1.5, n);
    await runtime.idle(); // submits the batch and waits for it
    assert.equal(runtime.stats.submits - before.submits, 1);
    await down(x);
    assert.equal(runtime.stats.pipelinesCompiled, before.pipelinesCompiled, 'no recompilation');
    assert.equal(runtime.stats.dispatches - before.dispatches, 5);
    assert.equal(runtime.stats.submits - before.submits, 2, 'one submit for the five dispatches, one for the readback');
    const released = runtime.allocate(300);
    runtime.release(released);
    const reused = runtime.allocate(290);
    assert.equal(reused.buffer, released.buffer, 'a released buffer of the same size bucket is reused');
  });

  it('2-D grids: past the per-dimension workgroup limit the 1-D and per-row kernels still cover every element once', async () => {
    // a runtime that may launch only 3 workgroups per dimension reaches the 2-D grids with small arrays
    const small = new WebGpuKernels(new GpuRuntime(runtime.device, { maxWorkgroupsPerDimension: 3 }));
    const smallRuntime = small.runtime;
    const n = 2000; // 8 workgroups of 256 -> a 3 x 3 grid, 304 invocations past the end
    const x = randomArray(random, n);
    const y = randomArray(random, n);
    const expected = toFloat64(y);
    js.axpy(0.5, toFloat64(x), expected, n);
    const yGpu = smallRuntime.upload(y);
    small.axpy(0.5, smallRuntime.upload(x), yGpu, n);
    assertClose(await smallRuntime.read(yGpu), expected, { rtol: 3e-7, atol: 3e-7 }, 'axpy on a 2-D grid');

    const [rows, cols] = [7, 33]; // 7 rows, one workgroup each -> a 3 x 3 grid
    const input = randomArray(random, rows * cols);
    const gamma = randomArray(random, cols);
    const beta = randomArray(random, cols);
    const out = new Float64Array(rows * cols);
    js.layerNorm(toFloat64(input), toFloat64(gamma), toFloat64(beta), out, new Float64Array(rows), new Float64Array(rows), rows, cols, 1e-5);
    const outGpu = smallRuntime.allocate(rows * cols);
    small.layerNorm(smallRuntime.upload(input), smallRuntime.upload(gamma), smallRuntime.upload(beta), outGpu,
      smallRuntime.allocate(rows), smallRuntime.allocate(rows), rows, cols, 1e-5);
    assertClose(await smallRuntime.read(outGpu), out, REDUCTION, 'layerNorm rows on a 2-D grid');
    assert.throws(() => small.scale(yGpu, 2, 3 * 3 * 256 + 1), /exceed a 3 x 3 grid/);
  });

  it('refuses a buffer passed twice, and turns a WebGPU validation error into an exception at the next read', async () => {
    const x = up(randomArray(random, 10));
    assert.throws(() => gpu.axpy(1, x, x, 10), /the same buffer is passed twice/);
    const broken = runtime.pipeline('broken', () => 'this is not WGSL');
    runtime.dispatch(broken, [x], [], [1, 1, 1]);
    await assert.rejects(down(x), /WebGPU error/);
    // the runtime stays usable for valid work
    gpu.scale(x, 2, 10);
    assert.equal((await down(x)).length, 10);
  });
});
