/**
 * The native addon (native/napi/ over native/kernels/) against the TypeScript reference (JsBackend).
 * Skips when the addon is not built, unless STITCH_REQUIRE_NATIVE=1 (CI), where that fails.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dropoutKeep, type Activation, type AdamStep, type AttentionShape, type GemmBatch, type GemmCall } from '../../src/engine/backend.js';
import { JsBackend } from '../../src/engine/backends/js.js';
import { loadNativeAddon, NativeBackend, type NativeAddon } from '../../src/engine/backends/native.js';

let addon: NativeAddon | undefined;
let loadFailure = '';
try {
  addon = loadNativeAddon();
} catch (error) {
  loadFailure = error instanceof Error ? error.message : String(error);
}
const nativeRequired = process.env.STITCH_REQUIRE_NATIVE === '1';

if (addon === undefined && nativeRequired) {
  it('loads the native addon (STITCH_REQUIRE_NATIVE=1)', () => {
    assert.fail(`the native addon did not load: ${loadFailure}`);
  });
}

const js = new JsBackend();

function loadedAddon(): NativeAddon {
  assert.ok(addon, 'native addon not loaded');
  return addon;
}

function nativeBackend(): NativeBackend {
  return new NativeBackend(loadedAddon());
}

/** mulberry32: a small seeded generator, so failures reproduce */
function makeRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomArray(n: number, seed: number, low = -1, high = 1): Float32Array {
  const next = makeRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = low + (high - low) * next();
  return out;
}

interface Tolerance {
  rtol: number;
  atol: number;
}

const TIGHT: Tolerance = { rtol: 1e-5, atol: 1e-6 };
const SUMS: Tolerance = { rtol: 1e-4, atol: 1e-5 };

function assertClose(actual: Float32Array, expected: Float32Array, tolerance: Tolerance, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    const allowed = tolerance.atol + tolerance.rtol * Math.abs(e);
    if (!(Math.abs(a - e) <= allowed)) {
      assert.fail(`${label}: element ${i} is ${a}, expected ${e} (allowed difference ${allowed})`);
    }
  }
}

function copies(...arrays: Float32Array[]): [Float32Array[], Float32Array[]] {
  return [arrays.map((a) => a.slice()), arrays.map((a) => a.slice())];
}

describe('native kernels', { skip: addon === undefined ? `native addon unavailable: ${loadFailure}` : false }, () => {
  describe('gemm', () => {
    const cases: Array<{ transA: boolean; transB: boolean; m: number; n: number; k: number; pad: number }> = [];
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        cases.push({ transA, transB, m: 7, n: 5, k: 9, pad: 0 });
        cases.push({ transA, transB, m: 33, n: 17, k: 40, pad: 3 });
      }
    }
    for (const { transA, transB, m, n, k, pad } of cases) {
      for (const [alpha, beta] of [[1, 0], [0.5, 1], [-1.5, 0.25]] as const) {
        it(`transA=${transA} transB=${transB} ${m}x${n}x${k} pad=${pad} alpha=${alpha} beta=${beta}`, () => {
          const lda = (transA ? m : k) + pad;
          const ldb = (transB ? k : n) + pad;
          const ldc = n + pad;
          const a = randomArray((transA ? k : m) * lda, 1);
          const b = randomArray((transB ? n : k) * ldb, 2);
          const c = randomArray(m * ldc, 3);
          if (beta === 0) c.fill(Number.NaN);
          const [[cNative], [cJs]] = copies(c);
          nativeBackend().gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, cNative, ldc);
          js.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, cJs, ldc);
          if (pad > 0 && beta === 0) {
            // padding columns of C are outside the view: untouched (still NaN) in both
            assert.ok(Number.isNaN(cNative[n]), 'padding of C was written');
          }
          assertClose(cNative, cJs, SUMS, 'C');
        });
      }
    }

    const batchCases: Array<{ name: string; m: number; n: number; k: number; count: number; gap: number }> = [
      { name: 'large products, sequential', m: 70, n: 60, k: 80, count: 3, gap: 11 },
      { name: 'small products, one per thread', m: 24, n: 20, k: 32, count: 16, gap: 5 },
    ];
    for (const { name, m, n, k, count, gap } of batchCases) {
      it(`batched (${name}) with strided A, B, C`, () => {
        const batch: GemmBatch = { count, strideA: m * k + gap, strideB: 0, strideC: m * n + gap };
        const a = randomArray(batch.strideA * count, 4);
        const b = randomArray(k * n, 5);
        const c = randomArray(batch.strideC * count, 6);
        const [[cNative], [cJs]] = copies(c);
        nativeBackend().gemm(false, false, m, n, k, 1, a, k, b, n, 0.5, cNative, n, batch);
        js.gemm(false, false, m, n, k, 1, a, k, b, n, 0.5, cJs, n, batch);
        assertClose(cNative, cJs, SUMS, 'C');
      });
    }

    it('k = 0 and beta = 0 writes zeros over NaN garbage', () => {
      const c = new Float32Array(12).fill(Number.NaN);
      nativeBackend().gemm(false, false, 3, 4, 0, 1, new Float32Array(0), 1, new Float32Array(0), 4, 0, c, 4);
      assert.deepEqual(c, new Float32Array(12));
    });

    it('alpha = 0 scales C by beta', () => {
      const c = randomArray(6, 7);
      const expected = c.map((x) => Math.fround(x * 2));
      nativeBackend().gemm(false, false, 2, 3, 4, 0, randomArray(8, 8), 4, randomArray(12, 9), 3, 2, c, 3);
      assert.deepEqual(c, expected);
    });

    it('one and two threads agree', () => {
      const native = nativeBackend();
      const before = native.threads();
      const a = randomArray(300 * 128, 10);
      const b = randomArray(128 * 200, 11);
      const single = new Float32Array(300 * 200);
      const multi = new Float32Array(300 * 200);
      try {
        native.setThreads(1);
        assert.equal(native.threads(), 1);
        native.gemm(false, false, 300, 200, 128, 1, a, 128, b, 200, 0, single, 200);
        native.setThreads(2);
        native.gemm(false, false, 300, 200, 128, 1, a, 128, b, 200, 0, multi, 200);
      } finally {
        native.setThreads(before);
      }
      assertClose(multi, single, SUMS, 'C');
    });

    // products this large are cut into one block of C per thread (rows, or columns when C is wider)
    for (const [m, n, k] of [[3840, 512, 128], [200, 3000, 200]] as const) {
      for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
        it(`a large product split over two threads matches (${m}x${n}x${k}, transA ${transA}, transB ${transB})`, () => {
          const native = nativeBackend();
          const before = native.threads();
          const a = randomArray(m * k, 30);
          const b = randomArray(k * n, 31);
          const lda = transA ? m : k;
          const ldb = transB ? k : n;
          const [[split, single], [reference]] = copies(randomArray(m * n, 32), randomArray(m * n, 32));
          try {
            native.setThreads(2);
            native.gemm(transA, transB, m, n, k, 1, a, lda, b, ldb, 0.5, split!, n);
            native.setThreads(1);
            native.gemm(transA, transB, m, n, k, 1, a, lda, b, ldb, 0.5, single!, n);
          } finally {
            native.setThreads(before);
          }
          js.gemm(transA, transB, m, n, k, 1, a, lda, b, ldb, 0.5, reference!, n);
          assertClose(split!, single!, SUMS, 'split vs one thread');
          assertClose(split!, reference!, { rtol: 1e-4, atol: 1e-4 }, 'split vs reference');
        });
      }
    }

    // a linear layer's dX and dW: side by side on two threads, and one after the other below the size cut
    for (const [rows, inFeatures, outFeatures] of [[3840, 128, 512], [7, 5, 3]] as const) {
      for (const accumulate of [false, true]) {
        it(`gemmPair matches two gemm calls (rows ${rows}, ${inFeatures} -> ${outFeatures}, accumulate ${accumulate})`, () => {
          const native = nativeBackend();
          const before = native.threads();
          const x = randomArray(rows * inFeatures, 20);
          const weight = randomArray(outFeatures * inFeatures, 21);
          const grad = randomArray(rows * outFeatures, 22);
          const [[dxNative, dwNative], [dxJs, dwJs]] = copies(randomArray(rows * inFeatures, 23), randomArray(outFeatures * inFeatures, 24));
          const calls = (dx: Float32Array, dw: Float32Array): [GemmCall, GemmCall] => [
            { transA: false, transB: false, m: rows, n: inFeatures, k: outFeatures, alpha: 1, a: grad, lda: outFeatures, b: weight, ldb: inFeatures, beta: accumulate ? 1 : 0, c: dx, ldc: inFeatures },
            { transA: true, transB: false, m: outFeatures, n: inFeatures, k: rows, alpha: 1, a: grad, lda: outFeatures, b: x, ldb: inFeatures, beta: accumulate ? 1 : 0, c: dw, ldc: inFeatures },
          ];
          const [[dxSingle, dwSingle]] = copies(dxNative, dwNative);
          try {
            native.setThreads(2);
            native.gemmPair(...calls(dxNative, dwNative));
            native.setThreads(1);
            for (const call of calls(dxSingle, dwSingle)) {
              native.gemm(call.transA, call.transB, call.m, call.n, call.k, call.alpha, call.a, call.lda, call.b, call.ldb, call.beta, call.c, call.ldc);
            }
          } finally {
            native.setThreads(before);
          }
          // each product of the pair is the single-threaded product, bit for bit
          assert.deepEqual(dxNative, dxSingle);
          assert.deepEqual(dwNative, dwSingle);
          // dW sums 3840 terms of size 1 in float32: an absolute tolerance of that order
          js.gemmPair(...calls(dxJs, dwJs));
          assertClose(dxNative, dxJs, SUMS, 'dX');
          assertClose(dwNative, dwJs, { rtol: 1e-4, atol: 1e-4 }, 'dW');
        });
      }
    }
  });

  describe('row and element-wise kernels', () => {
    for (const [rows, cols] of [[5, 7], [700, 128]] as const) {
      it(`addBiasRows and sumRows ${rows}x${cols}`, () => {
        const x = randomArray(rows * cols, 20);
        const bias = randomArray(cols, 21);
        const [[xNative], [xJs]] = copies(x);
        nativeBackend().addBiasRows(xNative, bias, rows, cols);
        js.addBiasRows(xJs, bias, rows, cols);
        assertClose(xNative, xJs, TIGHT, 'x');

        for (const accumulate of [false, true]) {
          const out = accumulate ? randomArray(cols, 22) : new Float32Array(cols).fill(Number.NaN);
          const [[outNative], [outJs]] = copies(out);
          nativeBackend().sumRows(x, rows, cols, outNative, accumulate);
          js.sumRows(x, rows, cols, outJs, accumulate);
          assertClose(outNative, outJs, { rtol: 1e-4, atol: 1e-4 }, `sumRows accumulate=${accumulate}`);
        }
      });
    }

    // a linear layer's bias + activation and their backward, fused (threaded above the grain size)
    for (const [rows, cols] of [[5, 7], [700, 512]] as const) {
      for (const kind of ['relu', 'gelu_tanh', 'gelu_erf', 'tanh', 'mish'] as Activation[]) {
        it(`biasActivation and activationBackwardBias ${kind} ${rows}x${cols}`, () => {
          const bias = randomArray(cols, 41);
          const [[xNative], [xJs]] = copies(randomArray(rows * cols, 40, -3, 3));
          const outNative = new Float32Array(rows * cols);
          const outJs = new Float32Array(rows * cols);
          nativeBackend().biasActivation(kind, xNative, bias, outNative, rows, cols);
          js.biasActivation(kind, xJs, bias, outJs, rows, cols);
          assertClose(xNative, xJs, TIGHT, 'pre-activation');
          assertClose(outNative, outJs, { rtol: 1e-5, atol: 1e-6 }, 'activation');

          const gradOut = randomArray(rows * cols, 42);
          for (const accumulate of [false, true]) {
            const [[gradNative, biasNative], [gradJs, biasJs]] = copies(
              new Float32Array(rows * cols).fill(Number.NaN), accumulate ? randomArray(cols, 43) : new Float32Array(cols).fill(Number.NaN),
            );
            nativeBackend().activationBackwardBias(kind, xJs, gradOut, gradNative!, biasNative!, rows, cols, accumulate);
            js.activationBackwardBias(kind, xJs, gradOut, gradJs!, biasJs!, rows, cols, accumulate);
            assertClose(gradNative!, gradJs!, { rtol: 1e-5, atol: 1e-6 }, 'gradX');
            assertClose(biasNative!, biasJs!, { rtol: 1e-4, atol: 1e-4 }, `biasGrad accumulate=${accumulate}`);
          }
        });
      }
    }

    for (const n of [13, 200_003]) {
      it(`add (aliased output), axpy, scale, sumSquares n=${n}`, () => {
        const native = nativeBackend();
        const a = randomArray(n, 30);
        const b = randomArray(n, 31);
        const [[aNative], [aJs]] = copies(a);
        native.add(aNative, b, aNative, n);
        js.add(aJs, b, aJs, n);
        assert.deepEqual(aNative, aJs);

        native.axpy(-0.75, b, aNative, n);
        js.axpy(-0.75, b, aJs, n);
        assertClose(aNative, aJs, TIGHT, 'axpy');

        native.scale(aNative, 1.5, n);
        js.scale(aJs, 1.5, n);
        assertClose(aNative, aJs, TIGHT, 'scale');

        const expected = js.sumSquares(a, n);
        assert.ok(Math.abs(native.sumSquares(a, n) - expected) <= 1e-12 * expected, 'sumSquares');
        assert.equal(native.sumSquares(a, 0), 0);
      });
    }

    const activations: Activation[] = ['relu', 'gelu_tanh', 'gelu_erf', 'tanh', 'mish'];
    const edgeValues = [0, -0, 1e-7, -1e-7, 0.3, -0.3, 0.62, 0.63, 3, -3, 9.5, -9.5, 19, 21, -21, 40, -40, 90, -90, 300, -300];
    for (const kind of activations) {
      it(`activation ${kind} forward and backward`, () => {
        const native = nativeBackend();
        const n = 20_000 + edgeValues.length;
        const x = randomArray(n, 40, -12, 12);
        x.set(edgeValues, 20_000);
        const [[outNative], [outJs]] = copies(new Float32Array(n));
        native.activation(kind, x, outNative, n);
        js.activation(kind, x, outJs, n);
        assertClose(outNative, outJs, { rtol: 2e-5, atol: 2e-6 }, `${kind} forward`);

        const gradOut = randomArray(n, 41);
        for (const accumulate of [false, true]) {
          const gradX = accumulate ? randomArray(n, 42) : new Float32Array(n).fill(Number.NaN);
          const [[gradNative], [gradJs]] = copies(gradX);
          native.activationBackward(kind, x, gradOut, gradNative, n, accumulate);
          js.activationBackward(kind, x, gradOut, gradJs, n, accumulate);
          assertClose(gradNative, gradJs, { rtol: 2e-5, atol: 4e-6 }, `${kind} backward accumulate=${accumulate}`);
        }
      });
    }

    for (const [p, seed] of [[0.1, 1], [0.5, 0xdeadbeef], [0, 7], [1, 9]] as const) {
      it(`dropout p=${p} seed=${seed} is bit-identical to the reference hash`, () => {
        const native = nativeBackend();
        const n = 100_003;
        const x = randomArray(n, 50, 0.5, 2);
        const [[outNative], [outJs]] = copies(new Float32Array(n));
        native.dropout(x, outNative, n, p, seed);
        js.dropout(x, outJs, n, p, seed);
        assert.deepEqual(outNative, outJs);
        for (let i = 0; i < n; i += 997) assert.equal(outNative[i] !== 0, dropoutKeep(seed, i, p), `element ${i}`);

        const gradOut = randomArray(n, 51);
        for (const accumulate of [false, true]) {
          const gradX = accumulate ? randomArray(n, 52) : new Float32Array(n).fill(Number.NaN);
          const [[gradNative], [gradJs]] = copies(gradX);
          native.dropoutBackward(gradOut, gradNative, n, p, seed, accumulate);
          js.dropoutBackward(gradOut, gradJs, n, p, seed, accumulate);
          assert.deepEqual(gradNative, gradJs);
        }
      });
    }

    it('dropout in place (out aliases x)', () => {
      const x = randomArray(5000, 53, 0.5, 2);
      const expected = new Float32Array(5000);
      js.dropout(x, expected, 5000, 0.25, 3);
      nativeBackend().dropout(x, x, 5000, 0.25, 3);
      assert.deepEqual(x, expected);
    });
  });

  describe('layerNorm', () => {
    for (const [rows, cols] of [[9, 13], [600, 128]] as const) {
      it(`forward and backward ${rows}x${cols}`, () => {
        const native = nativeBackend();
        const x = randomArray(rows * cols, 60, -2, 3);
        const gamma = randomArray(cols, 61, 0.5, 1.5);
        const beta = randomArray(cols, 62);
        const outs = copies(new Float32Array(rows * cols), new Float32Array(rows), new Float32Array(rows));
        const [[outN, meanN, rstdN], [outJ, meanJ, rstdJ]] = outs;
        native.layerNorm(x, gamma, beta, outN, meanN, rstdN, rows, cols, 1e-5);
        js.layerNorm(x, gamma, beta, outJ, meanJ, rstdJ, rows, cols, 1e-5);
        assertClose(outN, outJ, { rtol: 1e-5, atol: 1e-5 }, 'out');
        assertClose(meanN, meanJ, { rtol: 1e-5, atol: 1e-6 }, 'mean');
        assertClose(rstdN, rstdJ, TIGHT, 'rstd');

        const gradOut = randomArray(rows * cols, 63);
        for (const accumulate of [false, true]) {
          const gradX = accumulate ? randomArray(rows * cols, 64) : new Float32Array(rows * cols).fill(Number.NaN);
          const [[gxN, ggN, gbN], [gxJ, ggJ, gbJ]] = copies(gradX, randomArray(cols, 65), randomArray(cols, 66));
          native.layerNormBackward(x, gamma, meanJ, rstdJ, gradOut, gxN, ggN, gbN, rows, cols, accumulate);
          js.layerNormBackward(x, gamma, meanJ, rstdJ, gradOut, gxJ, ggJ, gbJ, rows, cols, accumulate);
          assertClose(gxN, gxJ, { rtol: 1e-4, atol: 1e-5 }, `gradX accumulate=${accumulate}`);
          assertClose(ggN, ggJ, { rtol: 1e-4, atol: 1e-4 }, 'gradGamma');
          assertClose(gbN, gbJ, { rtol: 1e-4, atol: 1e-4 }, 'gradBeta');
        }
      });
    }
  });

  describe('attention', () => {
    interface AttentionCase {
      name: string;
      shape: AttentionShape;
      /** batches whose keys are partly or fully masked out */
      mask: 'none' | 'partial' | 'with-empty-rows';
    }
    const cases: AttentionCase[] = [
      { name: 'causal, no mask', shape: { batch: 3, tokens: 7, heads: 2, headDim: 5, causal: true, dropout: 0, seed: 0 }, mask: 'none' },
      { name: 'not causal, key mask', shape: { batch: 3, tokens: 6, heads: 3, headDim: 4, causal: false, dropout: 0, seed: 0 }, mask: 'partial' },
      {
        name: 'causal, masked leading keys leave queries with no visible key',
        shape: { batch: 2, tokens: 8, heads: 2, headDim: 8, causal: true, dropout: 0, seed: 0 },
        mask: 'with-empty-rows',
      },
      {
        name: 'dropout on probabilities',
        shape: { batch: 2, tokens: 9, heads: 2, headDim: 6, causal: true, dropout: 0.3, seed: 0x12345678 },
        mask: 'partial',
      },
      {
        name: 'threaded over (batch, head), dropout and mask',
        shape: { batch: 8, tokens: 20, heads: 4, headDim: 16, causal: true, dropout: 0.1, seed: 99 },
        mask: 'partial',
      },
    ];

    function makeMask(batch: number, tokens: number, kind: AttentionCase['mask']): Float32Array | null {
      if (kind === 'none') return null;
      const mask = new Float32Array(batch * tokens).fill(1);
      for (let b = 0; b < batch; b++) {
        if (kind === 'partial') mask[b * tokens + ((b * 3 + 1) % tokens)] = 0;
        else for (let t = 0; t < 3; t++) mask[b * tokens + t] = 0;
      }
      if (kind === 'partial') mask.fill(0, 0, tokens); // the first batch sees nothing at all
      return mask;
    }

    for (const { name, shape, mask: maskKind } of cases) {
      it(name, () => {
        const native = nativeBackend();
        const { batch, tokens, heads, headDim } = shape;
        const width = heads * headDim;
        const qkv = randomArray(batch * tokens * 3 * width, 70, -2, 2);
        const mask = makeMask(batch, tokens, maskKind);
        const probsSize = batch * heads * tokens * tokens;
        const [[probsN, outN], [probsJ, outJ]] = copies(
          new Float32Array(probsSize).fill(Number.NaN),
          new Float32Array(batch * tokens * width).fill(Number.NaN),
        );
        native.attention(qkv, mask, probsN, outN, shape);
        js.attention(qkv, mask, probsJ, outJ, shape);
        assertClose(probsN, probsJ, { rtol: 1e-5, atol: 1e-6 }, 'probs');
        assertClose(outN, outJ, { rtol: 1e-4, atol: 1e-5 }, 'out');

        for (let b = 0; b < batch; b++) {
          for (let h = 0; h < heads; h++) {
            for (let i = 0; i < tokens; i++) {
              const row = ((b * heads + h) * tokens + i) * tokens;
              let visible = 0;
              for (let j = 0; j < tokens; j++) {
                const hidden = (shape.causal && j > i) || (mask !== null && mask[b * tokens + j] === 0);
                if (hidden) assert.equal(probsN[row + j], 0, `masked key ${j} of query ${i} has probability ${probsN[row + j]}`);
                else visible++;
              }
              if (visible === 0) {
                const out = outN.subarray((b * tokens + i) * width + h * headDim, (b * tokens + i) * width + (h + 1) * headDim);
                assert.ok(out.every((v) => v === 0), `query ${i} of batch ${b} sees no key but has output ${out.join(',')}`);
              }
            }
          }
        }

        const gradOut = randomArray(batch * tokens * width, 71);
        for (const accumulate of [false, true]) {
          const gradQkv = accumulate ? randomArray(qkv.length, 72) : new Float32Array(qkv.length).fill(Number.NaN);
          const [[gradN], [gradJ]] = copies(gradQkv);
          native.attentionBackward(qkv, probsJ, gradOut, gradN, shape, accumulate);
          js.attentionBackward(qkv, probsJ, gradOut, gradJ, shape, accumulate);
          assertClose(gradN, gradJ, { rtol: 1e-4, atol: 2e-5 }, `gradQkv accumulate=${accumulate}`);
        }
      });
    }
  });

  describe('embedding rows', () => {
    for (const [rows, cols] of [[11, 5], [3000, 64]] as const) {
      it(`gatherRows and scatterAddRows with repeated indices ${rows}x${cols}`, () => {
        const tableRows = 17;
        const table = randomArray(tableRows * cols, 80);
        const next = makeRandom(81);
        const index = Int32Array.from({ length: rows }, () => Math.floor(next() * tableRows));
        index[0] = index[1] = tableRows - 1;
        const [[outN], [outJ]] = copies(new Float32Array(rows * cols));
        nativeBackend().gatherRows(table, index, outN, cols);
        js.gatherRows(table, index, outJ, cols);
        assert.deepEqual(outN, outJ);

        const gradOut = randomArray(rows * cols, 82);
        const [[gradN], [gradJ]] = copies(randomArray(tableRows * cols, 83));
        nativeBackend().scatterAddRows(gradOut, index, gradN, cols);
        js.scatterAddRows(gradOut, index, gradJ, cols);
        assertClose(gradN, gradJ, SUMS, 'gradTable');
      });
    }
  });

  describe('optimizers', () => {
    const base: AdamStep = {
      lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, decoupled: true,
      biasCorrection1: 1 - 0.9 ** 3, biasCorrection2: 1 - 0.999 ** 3,
    };
    for (const n of [37, 50_001]) {
      for (const decoupled of [true, false]) {
        it(`adamUpdate decoupled=${decoupled} n=${n}`, () => {
          const step = { ...base, decoupled };
          const grad = randomArray(n, 90);
          const state = copies(randomArray(n, 91), randomArray(n, 92, -0.1, 0.1), randomArray(n, 93, 0, 0.01));
          const [[pN, mN, vN], [pJ, mJ, vJ]] = state;
          nativeBackend().adamUpdate(pN, grad, mN, vN, n, step);
          js.adamUpdate(pJ, grad, mJ, vJ, n, step);
          assertClose(mN, mJ, TIGHT, 'm');
          assertClose(vN, vJ, TIGHT, 'v');
          assertClose(pN, pJ, TIGHT, 'param');
        });
      }
      it(`lambUpdate n=${n}`, () => {
        const grad = randomArray(n, 94);
        const state = copies(randomArray(n, 95), randomArray(n, 96, -0.1, 0.1), randomArray(n, 97, 0, 0.01), new Float32Array(n));
        const [[pN, mN, vN, uN], [pJ, mJ, vJ, uJ]] = state;
        nativeBackend().lambUpdate(pN, grad, mN, vN, uN, n, base);
        js.lambUpdate(pJ, grad, mJ, vJ, uJ, n, base);
        assertClose(uN, uJ, TIGHT, 'update');
        assertClose(pN, pJ, TIGHT, 'param');
      });
    }
  });

  describe('argument validation', () => {
    type Call = [name: keyof NativeAddon, args: unknown[], error: typeof TypeError | typeof RangeError, message: RegExp];
    const f = (n: number) => new Float32Array(n);
    const calls: Call[] = [
      ['gemm', [false, false, 2, 2, 2, 1, f(4), 2, f(4), 2, 0, f(3), 2, 1, 0, 0, 0], RangeError, /gemm: C has 3 elements, needs at least 4/],
      ['gemm', [false, false, 2, 2, 2, 1, f(4), 1, f(4), 2, 0, f(4), 2, 1, 0, 0, 0], RangeError, /gemm: lda must be >= 2/],
      ['gemm', [true, false, 3, 2, 2, 1, f(5), 3, f(4), 2, 0, f(6), 2, 1, 0, 0, 0], RangeError, /gemm: A has 5 elements, needs at least 6/],
      ['gemm', [false, false, 2, 2, 2, 1, f(8), 2, f(4), 2, 0, f(8), 2, 2, 4, 1, 4], RangeError, /gemm: B has 4 elements, needs at least 5/],
      ['gemm', [false, false, 2, 2, 2, 1, new Float64Array(4), 2, f(4), 2, 0, f(4), 2, 1, 0, 0, 0], TypeError, /gemm: A must be a Float32Array/],
      ['gemm', [false, false, 2.5, 2, 2, 1, f(4), 2, f(4), 2, 0, f(4), 2, 1, 0, 0, 0], RangeError, /gemm: m must be an integer/],
      ['gemm', [false, false, 2, 2, 2, 1, f(4), 2, f(4), 2], TypeError, /gemm: the call must be 17 arguments/],
      ['gemmPair', [false, false, 2, 2, 2, 1, f(4), 2, f(4), 2, 0, f(4), 2, false, false, 2, 2, 2, 1, f(4), 2, f(4), 2, 0, f(3), 2], RangeError, /gemmPair: C has 3 elements, needs at least 4/],
      ['gemmPair', [false, false, 2, 2, 2, 1, f(4), 2, f(4), 2, 0, f(4), 2], TypeError, /gemmPair: the call must be 26 arguments/],
      ['add', [f(4), [1, 2, 3, 4], f(4), 4], TypeError, /add: b must be a Float32Array/],
      ['axpy', ['2', f(4), f(4), 4], TypeError, /axpy: alpha must be a number/],
      ['scale', [f(4), 2, -1], RangeError, /scale: n must be an integer/],
      ['sumSquares', [f(4), 5], RangeError, /sumSquares: x has 4 elements, needs at least 5/],
      ['addBiasRows', [f(12), f(3), 3, 4], RangeError, /addBiasRows: bias has 3 elements/],
      ['sumRows', [f(12), 3, 4, f(4), 1], TypeError, /sumRows: accumulate must be a boolean/],
      ['biasActivation', [1, f(12), f(3), f(12), 3, 4], RangeError, /biasActivation: bias has 3 elements, needs at least 4/],
      ['activationBackwardBias', [1, f(12), f(12), f(12), f(4), 3, 4, 0], TypeError, /activationBackwardBias: accumulate must be a boolean/],
      ['activation', [9, f(4), f(4), 4], RangeError, /activation: kind must be an integer in \[0, 4\]/],
      ['activationBackward', [1, f(4), f(4), f(3), 4, false], RangeError, /activationBackward: gradX has 3/],
      ['dropout', [f(4), f(4), 4, 1.5, 1], RangeError, /dropout: p must be a probability/],
      ['dropoutBackward', [f(4), f(4), 4, 0.5, -1, false], RangeError, /dropoutBackward: seed must be an integer/],
      ['layerNorm', [f(12), f(4), f(4), f(12), f(2), f(3), 3, 4, 1e-5], RangeError, /layerNorm: mean has 2 elements, needs at least 3/],
      ['layerNormBackward', [f(12), f(4), f(3), f(3), f(12), f(12), f(3), f(4), 3, 4, false], RangeError, /layerNormBackward: gradGamma has 3/],
      ['attention', [f(24), null, f(7), f(8), 1, 2, 2, 2, true, 0, 0], RangeError, /attention: probs has 7 elements, needs at least 8/],
      ['attention', [f(24), f(1), f(8), f(8), 1, 2, 2, 2, true, 0, 0], RangeError, /attention: keyMask has 1 elements, needs at least 2/],
      ['attention', [f(24), 0, f(8), f(8), 1, 2, 2, 2, true, 0, 0], TypeError, /attention: keyMask must be a Float32Array or null/],
      ['attentionBackward', [f(24), f(8), f(8), f(23), 1, 2, 2, 2, true, 0, 0, false], RangeError, /attentionBackward: gradQkv has 23/],
      ['gatherRows', [f(6), Int32Array.of(0, 3), f(4), 2], RangeError, /gatherRows: index\[1\] = 3 is outside the table's 3 rows/],
      ['gatherRows', [f(6), [0, 1], f(4), 2], TypeError, /gatherRows: index must be an Int32Array/],
      ['scatterAddRows', [f(4), Int32Array.of(0, -1), f(6), 2], RangeError, /scatterAddRows: index\[1\] = -1/],
      ['adamUpdate', [f(4), f(4), f(3), f(4), 4, 1e-3, 0.9, 0.999, 1e-8, 0, true, 0.1, 0.001], RangeError, /adamUpdate: m has 3/],
      ['lambUpdate', [f(4), f(4), f(4), f(4), f(2), 4, 1e-3, 0.9, 0.999, 1e-8, 0, 0.1, 0.001], RangeError, /lambUpdate: update has 2/],
      ['setThreads', [0], RangeError, /setThreads: n must be an integer in \[1, /],
    ];
    for (const [name, args, error, message] of calls) {
      it(`${name} rejects ${message.source}`, () => {
        const native = loadedAddon();
        assert.throws(() => Reflect.apply(native[name], native, args), (thrown: unknown) => {
          assert.ok(thrown instanceof error, `expected ${error.name}, got ${String(thrown)}`);
          assert.match(thrown.message, message);
          return true;
        });
      });
    }

    it('a rejected scatter writes nothing', () => {
      const gradTable = new Float32Array(6);
      assert.throws(() => loadedAddon().scatterAddRows(new Float32Array(6).fill(1), Int32Array.of(0, 1, 5), gradTable, 2), RangeError);
      assert.deepEqual(gradTable, new Float32Array(6));
    });

    it('reports the BLAS and thread count', () => {
      const native = loadedAddon();
      assert.match(native.blasInfo(), /^OpenBLAS \d+\.\d+\.\d+ core=\S+ threads=\d+/);
      assert.ok(native.threads() >= 1);
    });
  });
});
