/**
 * The kernel conformance suite: every kernel of a Backend against the TypeScript reference (JsBackend),
 * on the same shapes and tolerances for each backend. native-kernels.test.ts and wasm-kernels.test.ts
 * register it for their backend and add only what is specific to that backend.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dropoutKeep, type Activation, type AdamStep, type AttentionShape, type Backend, type GemmBatch, type GemmCall } from '../../src/engine/backend.js';
import { JsBackend } from '../../src/engine/backends/js.js';
import { seededRandom } from '../helpers/random.js';

/** the TypeScript reference every backend is checked against */
export const js = new JsBackend();

/** mulberry32 (test/helpers/random.ts): failures reproduce */
export const makeRandom = seededRandom;

export function randomArray(n: number, seed: number, low = -1, high = 1): Float32Array {
  const next = makeRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = low + (high - low) * next();
  return out;
}

export interface Tolerance {
  rtol: number;
  atol: number;
}

export const TIGHT: Tolerance = { rtol: 1e-5, atol: 1e-6 };
export const SUMS: Tolerance = { rtol: 1e-4, atol: 1e-5 };

export function assertClose(actual: Float32Array, expected: Float32Array, tolerance: Tolerance, label: string): void {
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

export function copies(...arrays: Float32Array[]): [Float32Array[], Float32Array[]] {
  return [arrays.map((a) => a.slice()), arrays.map((a) => a.slice())];
}

export interface KernelSuiteOptions {
  /** a reason to skip the whole suite (the backend is unavailable), or false */
  skip?: string | false;
  /** registers this backend's own gemm tests, at the end of the shared `gemm` block */
  gemm?: () => void;
  /** registers this backend's own blocks, after the shared ones, inside the `label` block */
  extra?: () => void;
}

/**
 * Registers `describe(label)` with the shared kernel checks for the backend that `backend()` returns.
 * `backend` is called inside each test, so a backend that failed to load only fails (or skips) there.
 */
export function describeKernelConformance(label: string, backend: () => Backend, options: KernelSuiteOptions = {}): void {
  describe(label, { skip: options.skip ?? false }, () => {
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
            const [[cB], [cJs]] = copies(c);
            backend().gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, cB, ldc);
            js.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, cJs, ldc);
            if (pad > 0 && beta === 0) {
              // padding columns of C are outside the view: untouched (still NaN) in both
              assert.ok(Number.isNaN(cB[n]), 'padding of C was written');
            }
            assertClose(cB, cJs, SUMS, 'C');
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
          const [[cB], [cJs]] = copies(c);
          backend().gemm(false, false, m, n, k, 1, a, k, b, n, 0.5, cB, n, batch);
          js.gemm(false, false, m, n, k, 1, a, k, b, n, 0.5, cJs, n, batch);
          assertClose(cB, cJs, SUMS, 'C');
        });
      }

      it('k = 0 and beta = 0 writes zeros over NaN garbage', () => {
        const c = new Float32Array(12).fill(Number.NaN);
        backend().gemm(false, false, 3, 4, 0, 1, new Float32Array(0), 1, new Float32Array(0), 4, 0, c, 4);
        assert.deepEqual(c, new Float32Array(12));
      });

      it('alpha = 0 scales C by beta', () => {
        const c = randomArray(6, 7);
        const expected = c.map((x) => Math.fround(x * 2));
        backend().gemm(false, false, 2, 3, 4, 0, randomArray(8, 8), 4, randomArray(12, 9), 3, 2, c, 3);
        assert.deepEqual(c, expected);
      });

      // shapes that cross the wasm GEMM's blocks: KC = 256 deep, MC = 64 rows, NC = 1024 columns, 4 x 8 tiles
      // (first written for wasm; plain kernel-vs-reference checks, so every backend runs them)
      for (const [m, n, k] of [[67, 13, 259], [5, 1030, 3], [130, 9, 520], [1, 1, 1]] as const) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            it(`crosses blocks: ${m}x${n}x${k} transA=${transA} transB=${transB}`, () => {
              const lda = transA ? m : k, ldb = transB ? k : n;
              const a = randomArray(lda * (transA ? k : m), 40);
              const b = randomArray(ldb * (transB ? n : k), 41);
              const [[cB], [cJs]] = copies(randomArray(m * n, 42));
              backend().gemm(transA, transB, m, n, k, 0.75, a, lda, b, ldb, 0.5, cB!, n);
              js.gemm(transA, transB, m, n, k, 0.75, a, lda, b, ldb, 0.5, cJs!, n);
              assertClose(cB!, cJs!, { rtol: 1e-4, atol: 1e-4 }, 'C');
            });
          }
        }
      }

      it('gemmPair matches two gemm calls', () => {
        const x = randomArray(50 * 24, 43), gradY = randomArray(50 * 12, 44), w = randomArray(12 * 24, 45);
        const call = (dx: Float32Array, dw: Float32Array): [GemmCall, GemmCall] => [
          { transA: false, transB: false, m: 50, n: 24, k: 12, alpha: 1, a: gradY, lda: 12, b: w, ldb: 24, beta: 0, c: dx, ldc: 24 },
          { transA: true, transB: false, m: 12, n: 24, k: 50, alpha: 1, a: gradY, lda: 12, b: x, ldb: 24, beta: 1, c: dw, ldc: 24 },
        ];
        const [[dxB, dwB], [dxJs, dwJs]] = copies(new Float32Array(50 * 24), randomArray(12 * 24, 46));
        backend().gemmPair(...call(dxB!, dwB!));
        js.gemmPair(...call(dxJs!, dwJs!));
        assertClose(dxB!, dxJs!, SUMS, 'dX');
        assertClose(dwB!, dwJs!, SUMS, 'dW');
      });

      options.gemm?.();
    });

    describe('row and element-wise kernels', () => {
      for (const [rows, cols] of [[5, 7], [700, 128]] as const) {
        it(`addBiasRows and sumRows ${rows}x${cols}`, () => {
          const x = randomArray(rows * cols, 20);
          const bias = randomArray(cols, 21);
          const [[xB], [xJs]] = copies(x);
          backend().addBiasRows(xB, bias, rows, cols);
          js.addBiasRows(xJs, bias, rows, cols);
          assertClose(xB, xJs, TIGHT, 'x');

          for (const accumulate of [false, true]) {
            const out = accumulate ? randomArray(cols, 22) : new Float32Array(cols).fill(Number.NaN);
            const [[outB], [outJs]] = copies(out);
            backend().sumRows(x, rows, cols, outB, accumulate);
            js.sumRows(x, rows, cols, outJs, accumulate);
            assertClose(outB, outJs, { rtol: 1e-4, atol: 1e-4 }, `sumRows accumulate=${accumulate}`);
          }
        });
      }

      // a linear layer's bias + activation and their backward, fused (threaded above the grain size)
      for (const [rows, cols] of [[5, 7], [700, 512]] as const) {
        for (const kind of ['relu', 'gelu_tanh', 'gelu_erf', 'tanh', 'mish'] as Activation[]) {
          it(`biasActivation and activationBackwardBias ${kind} ${rows}x${cols}`, () => {
            const bias = randomArray(cols, 41);
            const [[xB], [xJs]] = copies(randomArray(rows * cols, 40, -3, 3));
            const outB = new Float32Array(rows * cols);
            const outJs = new Float32Array(rows * cols);
            backend().biasActivation(kind, xB, bias, outB, rows, cols);
            js.biasActivation(kind, xJs, bias, outJs, rows, cols);
            assertClose(xB, xJs, TIGHT, 'pre-activation');
            assertClose(outB, outJs, { rtol: 1e-5, atol: 1e-6 }, 'activation');

            const gradOut = randomArray(rows * cols, 42);
            for (const accumulate of [false, true]) {
              const [[gradB, biasB], [gradJs, biasJs]] = copies(
                new Float32Array(rows * cols).fill(Number.NaN), accumulate ? randomArray(cols, 43) : new Float32Array(cols).fill(Number.NaN),
              );
              backend().activationBackwardBias(kind, xJs, gradOut, gradB!, biasB!, rows, cols, accumulate);
              js.activationBackwardBias(kind, xJs, gradOut, gradJs!, biasJs!, rows, cols, accumulate);
              assertClose(gradB!, gradJs!, { rtol: 1e-5, atol: 1e-6 }, 'gradX');
              assertClose(biasB!, biasJs!, { rtol: 1e-4, atol: 1e-4 }, `biasGrad accumulate=${accumulate}`);
            }
          });
        }
      }

      for (const n of [13, 200_003]) {
        it(`add (aliased output), axpy, scale, sumSquares n=${n}`, () => {
          const kernels = backend();
          const a = randomArray(n, 30);
          const b = randomArray(n, 31);
          const [[aB], [aJs]] = copies(a);
          kernels.add(aB, b, aB, n);
          js.add(aJs, b, aJs, n);
          assert.deepEqual(aB, aJs);

          kernels.axpy(-0.75, b, aB, n);
          js.axpy(-0.75, b, aJs, n);
          assertClose(aB, aJs, TIGHT, 'axpy');

          kernels.scale(aB, 1.5, n);
          js.scale(aJs, 1.5, n);
          assertClose(aB, aJs, TIGHT, 'scale');

          const expected = js.sumSquares(a, n);
          assert.ok(Math.abs(kernels.sumSquares(a, n) - expected) <= 1e-12 * expected, 'sumSquares');
          assert.equal(kernels.sumSquares(a, 0), 0);
        });
      }

      const activations: Activation[] = ['relu', 'gelu_tanh', 'gelu_erf', 'tanh', 'mish'];
      const edgeValues = [0, -0, 1e-7, -1e-7, 0.3, -0.3, 0.62, 0.63, 3, -3, 9.5, -9.5, 19, 21, -21, 40, -40, 90, -90, 300, -300];
      for (const kind of activations) {
        it(`activation ${kind} forward and backward`, () => {
          const kernels = backend();
          const n = 20_000 + edgeValues.length;
          const x = randomArray(n, 40, -12, 12);
          x.set(edgeValues, 20_000);
          const [[outB], [outJs]] = copies(new Float32Array(n));
          kernels.activation(kind, x, outB, n);
          js.activation(kind, x, outJs, n);
          assertClose(outB, outJs, { rtol: 2e-5, atol: 2e-6 }, `${kind} forward`);

          const gradOut = randomArray(n, 41);
          for (const accumulate of [false, true]) {
            const gradX = accumulate ? randomArray(n, 42) : new Float32Array(n).fill(Number.NaN);
            const [[gradB], [gradJs]] = copies(gradX);
            kernels.activationBackward(kind, x, gradOut, gradB, n, accumulate);
            js.activationBackward(kind, x, gradOut, gradJs, n, accumulate);
            assertClose(gradB, gradJs, { rtol: 2e-5, atol: 4e-6 }, `${kind} backward accumulate=${accumulate}`);
          }
        });
      }

      for (const [p, seed] of [[0.1, 1], [0.5, 0xdeadbeef], [0, 7], [1, 9]] as const) {
        it(`dropout p=${p} seed=${seed} is bit-identical to the reference hash`, () => {
          const kernels = backend();
          const n = 100_003;
          const x = randomArray(n, 50, 0.5, 2);
          const [[outB], [outJs]] = copies(new Float32Array(n));
          kernels.dropout(x, outB, n, p, seed);
          js.dropout(x, outJs, n, p, seed);
          assert.deepEqual(outB, outJs);
          for (let i = 0; i < n; i += 997) assert.equal(outB[i] !== 0, dropoutKeep(seed, i, p), `element ${i}`);

          const gradOut = randomArray(n, 51);
          for (const accumulate of [false, true]) {
            const gradX = accumulate ? randomArray(n, 52) : new Float32Array(n).fill(Number.NaN);
            const [[gradB], [gradJs]] = copies(gradX);
            kernels.dropoutBackward(gradOut, gradB, n, p, seed, accumulate);
            js.dropoutBackward(gradOut, gradJs, n, p, seed, accumulate);
            assert.deepEqual(gradB, gradJs);
          }
        });
      }

      it('dropout in place (out aliases x)', () => {
        const x = randomArray(5000, 53, 0.5, 2);
        const expected = new Float32Array(5000);
        js.dropout(x, expected, 5000, 0.25, 3);
        backend().dropout(x, x, 5000, 0.25, 3);
        assert.deepEqual(x, expected);
      });
    });

    describe('layerNorm', () => {
      for (const [rows, cols] of [[9, 13], [600, 128]] as const) {
        it(`forward and backward ${rows}x${cols}`, () => {
          const kernels = backend();
          const x = randomArray(rows * cols, 60, -2, 3);
          const gamma = randomArray(cols, 61, 0.5, 1.5);
          const beta = randomArray(cols, 62);
          const outs = copies(new Float32Array(rows * cols), new Float32Array(rows), new Float32Array(rows));
          const [[outN, meanN, rstdN], [outJ, meanJ, rstdJ]] = outs;
          kernels.layerNorm(x, gamma, beta, outN, meanN, rstdN, rows, cols, 1e-5);
          js.layerNorm(x, gamma, beta, outJ, meanJ, rstdJ, rows, cols, 1e-5);
          assertClose(outN, outJ, { rtol: 1e-5, atol: 1e-5 }, 'out');
          assertClose(meanN, meanJ, { rtol: 1e-5, atol: 1e-6 }, 'mean');
          assertClose(rstdN, rstdJ, TIGHT, 'rstd');

          const gradOut = randomArray(rows * cols, 63);
          for (const accumulate of [false, true]) {
            const gradX = accumulate ? randomArray(rows * cols, 64) : new Float32Array(rows * cols).fill(Number.NaN);
            const [[gxN, ggN, gbN], [gxJ, ggJ, gbJ]] = copies(gradX, randomArray(cols, 65), randomArray(cols, 66));
            kernels.layerNormBackward(x, gamma, meanJ, rstdJ, gradOut, gxN, ggN, gbN, rows, cols, accumulate);
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
          const kernels = backend();
          const { batch, tokens, heads, headDim } = shape;
          const width = heads * headDim;
          const qkv = randomArray(batch * tokens * 3 * width, 70, -2, 2);
          const mask = makeMask(batch, tokens, maskKind);
          const probsSize = batch * heads * tokens * tokens;
          const [[probsN, outN], [probsJ, outJ]] = copies(
            new Float32Array(probsSize).fill(Number.NaN),
            new Float32Array(batch * tokens * width).fill(Number.NaN),
          );
          kernels.attention(qkv, mask, probsN, outN, shape);
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
            kernels.attentionBackward(qkv, probsJ, gradOut, gradN, shape, accumulate);
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
          backend().gatherRows(table, index, outN, cols);
          js.gatherRows(table, index, outJ, cols);
          assert.deepEqual(outN, outJ);

          const gradOut = randomArray(rows * cols, 82);
          const [[gradN], [gradJ]] = copies(randomArray(tableRows * cols, 83));
          backend().scatterAddRows(gradOut, index, gradN, cols);
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
            backend().adamUpdate(pN, grad, mN, vN, n, step);
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
          backend().lambUpdate(pN, grad, mN, vN, uN, n, base);
          js.lambUpdate(pJ, grad, mJ, vJ, uJ, n, base);
          assertClose(uN, uJ, TIGHT, 'update');
          assertClose(pN, pJ, TIGHT, 'param');
        });
      }
    });

    options.extra?.();
  });
}
