/**
 * The native addon (native/napi/ over native/kernels/) against the TypeScript reference (JsBackend):
 * the shared kernel conformance suite (backend-kernel-suite.ts), plus the addon's threads and its
 * argument errors. Skips when the addon is not built, unless STITCH_REQUIRE_NATIVE=1 (CI), where that fails.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GemmCall } from '../../src/engine/backend.js';
import { loadNativeAddon, NativeBackend, type NativeAddon } from '../../src/engine/backends/native.js';
import { assertClose, copies, describeKernelConformance, js, randomArray, SUMS } from './backend-kernel-suite.js';

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

function loadedAddon(): NativeAddon {
  assert.ok(addon, 'native addon not loaded');
  return addon;
}

function nativeBackend(): NativeBackend {
  return new NativeBackend(loadedAddon());
}

describeKernelConformance('native kernels', nativeBackend, {
  skip: addon === undefined ? `native addon unavailable: ${loadFailure}` : false,

  // the addon's threads: one and two agree, large products split, gemmPair side by side
  gemm: () => {
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
  },

  extra: () => {
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
  },
});
