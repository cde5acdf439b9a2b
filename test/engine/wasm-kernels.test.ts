/**
 * The WebAssembly kernels (wasm/stitch.wasm: native/kernels/ and wasm/gemm_simd.c) against the
 * TypeScript reference (JsBackend): the shared kernel conformance suite (backend-kernel-suite.ts),
 * as native-kernels.test.ts runs it for the addon, plus the wasm threads, argument checks, views
 * and memory growth, on the build Node loads here (wasm/stitch-relaxed.wasm where the engine has
 * relaxed SIMD); the suite runs once more on the plain build (wasm/stitch.wasm). The modules are
 * committed, so these never skip.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { GemmBatch, GemmCall } from '../../src/engine/backend.js';
import { WasmBackend } from '../../src/engine/backends/wasm.js';
import { loadWasmBackend, wasmModulePath } from '../../src/engine/backends/wasm-node.js';
import { startGemmWorkers } from '../../src/engine/backends/wasm-threads.js';
import { assertClose, copies, describeKernelConformance, js, randomArray } from './backend-kernel-suite.js';

// two threads, whatever the machine: the products below above 4 MFLOP take the split paths
const wasm = loadWasmBackend(2);
const wasmOneThread = loadWasmBackend(1);

function wasmBackend(): WasmBackend {
  return wasm;
}

describeKernelConformance('wasm kernels', wasmBackend, {
  extra: () => {
    describe('threads', () => {
      it('runs products on two threads', async () => {
        assert.equal(wasm.threads(), 2, wasm.describe());
        assert.equal(wasmOneThread.threads(), 1);
        // workers start asynchronously; the split tests below need this one running
        for (let tries = 0; tries < 100 && wasm.workersStarting() > 0; tries++) await new Promise((resolve) => setTimeout(resolve, 50));
        assert.equal(wasm.workersStarting(), 0);
      });

      function identical(actual: Float32Array, expected: Float32Array, label: string): void {
        for (let i = 0; i < expected.length; i++) {
          if (!Object.is(actual[i], expected[i])) assert.fail(`${label}: element ${i} is ${actual[i]} on two threads, ${expected[i]} on one`);
        }
      }

      // rows split (m >= n), columns split (n > m), every transpose, strided C, beta 0 and not
      const cases = [
        { transA: false, transB: false, m: 700, n: 300, k: 200, beta: 0 },
        { transA: true, transB: false, m: 100, n: 900, k: 300, beta: 0.5 },
        { transA: false, transB: true, m: 130, n: 1029, k: 64, beta: 1 },
        { transA: true, transB: true, m: 517, n: 61, k: 300, beta: 0 },
      ];
      for (const { transA, transB, m, n, k, beta } of cases) {
        it(`two threads give the one-thread result bit for bit: ${m}x${n}x${k} transA=${transA} transB=${transB} beta=${beta}`, () => {
          const lda = transA ? m : k, ldb = transB ? k : n, ldc = n + 3;
          const a = randomArray(lda * (transA ? k : m), 50), b = randomArray(ldb * (transB ? n : k), 51);
          const [[cOne, cTwo], [cJs]] = copies(randomArray(m * ldc, 52), randomArray(m * ldc, 52));
          wasmOneThread.gemm(transA, transB, m, n, k, 0.75, a, lda, b, ldb, beta, cOne!, ldc);
          wasm.gemm(transA, transB, m, n, k, 0.75, a, lda, b, ldb, beta, cTwo!, ldc);
          identical(cTwo!, cOne!, 'C');
          js.gemm(transA, transB, m, n, k, 0.75, a, lda, b, ldb, beta, cJs!, ldc);
          assertClose(cTwo!, cJs!, { rtol: 1e-4, atol: 1e-4 }, 'C against the reference');
        });
      }

      it('a batch split over two threads, and a pair side by side, match one thread bit for bit', () => {
        const m = 100, n = 80, k = 90, count = 6;
        const batch: GemmBatch = { count, strideA: m * k + 5, strideB: k * n, strideC: m * n + 7 };
        const a = randomArray(batch.strideA * count, 53), b = randomArray(batch.strideB * count, 54);
        const [[cOne, cTwo]] = copies(randomArray(batch.strideC * count, 55), randomArray(batch.strideC * count, 55));
        wasmOneThread.gemm(false, false, m, n, k, 1, a, k, b, n, 0.5, cOne!, n, batch);
        wasm.gemm(false, false, m, n, k, 1, a, k, b, n, 0.5, cTwo!, n, batch);
        identical(cTwo!, cOne!, 'batched C');

        const rows = 600, inputs = 96, outputs = 160;
        const x = randomArray(rows * inputs, 56), gradY = randomArray(rows * outputs, 57), weight = randomArray(outputs * inputs, 58);
        const pair = (dx: Float32Array, dw: Float32Array): [GemmCall, GemmCall] => [
          { transA: false, transB: false, m: rows, n: inputs, k: outputs, alpha: 1, a: gradY, lda: outputs, b: weight, ldb: inputs, beta: 0, c: dx, ldc: inputs },
          { transA: true, transB: false, m: outputs, n: inputs, k: rows, alpha: 1, a: gradY, lda: outputs, b: x, ldb: inputs, beta: 1, c: dw, ldc: inputs },
        ];
        const [[dxOne, dwOne], [dxTwo, dwTwo]] = copies(new Float32Array(rows * inputs), randomArray(outputs * inputs, 59));
        wasmOneThread.gemmPair(...pair(dxOne!, dwOne!));
        wasm.gemmPair(...pair(dxTwo!, dwTwo!));
        identical(dxTwo!, dxOne!, 'dX');
        identical(dwTwo!, dwOne!, 'dW');
      });

      it('runs products on the calling thread, without waiting, while a worker cannot start', async () => {
        const bytes = readFileSync(wasmModulePath(wasmOneThread.relaxed));
        const missing = new URL('file:///nonexistent/stitch-wasm-worker.js');
        const backend = WasmBackend.fromBytes(bytes, (count) => startGemmWorkers(bytes, count, { script: missing }));
        backend.setThreads(2);
        await new Promise((resolve) => setTimeout(resolve, 200)); // let the worker fail
        assert.equal(backend.workersStarting(), 1);
        const a = randomArray(90000, 60), b = randomArray(90000, 61);
        const [[c], [expected]] = copies(new Float32Array(90000));
        backend.gemm(false, false, 300, 300, 300, 1, a, 300, b, 300, 0, c!, 300);
        wasmOneThread.gemm(false, false, 300, 300, 300, 1, a, 300, b, 300, 0, expected!, 300);
        assert.deepEqual(c, expected);
        backend.setThreads(1);
      });

      it('setThreads(1) stops the workers and setThreads(2) starts one again', () => {
        const backend = loadWasmBackend(2);
        backend.setThreads(1);
        assert.equal(backend.threads(), 1);
        backend.setThreads(2);
        assert.equal(backend.threads(), 2);
        assert.throws(() => backend.setThreads(0), /positive integer/);
        backend.setThreads(1);
      });
    });

    describe('argument checks and memory', () => {
      it('rejects float64 arrays and arrays shorter than the op needs', () => {
        assert.throws(() => wasmBackend().add(new Float64Array(4), new Float32Array(4), new Float32Array(4), 4), /must be a Float32Array/);
        assert.throws(() => wasmBackend().add(new Float32Array(3), new Float32Array(4), new Float32Array(4), 4), /shorter than the 4/);
      });

      it('a rejected scatter writes nothing', () => {
        const gradTable = new Float32Array(6);
        assert.throws(() => wasmBackend().scatterAddRows(new Float32Array(6).fill(1), Int32Array.of(0, 1, 5), gradTable, 2), RangeError);
        assert.deepEqual(gradTable, new Float32Array(6));
      });

      it('copies only the elements of a view, and survives the memory growing between ops', () => {
        // a 40 MiB product grows the arena (and the module's memory) after a small op ran
        const big = 2300;
        const x = randomArray(16, 47);
        const outBefore = new Float32Array(16);
        wasmBackend().activation('tanh', x, outBefore, 16);
        const a = randomArray(big * 8, 48), b = randomArray(8 * big, 49);
        const c = new Float32Array(big * big);
        wasmBackend().gemm(false, false, big, big, 8, 1, a, 8, b, big, 0, c, big);
        let expected = 0;
        for (let p = 0; p < 8; p++) expected += a[(big - 1) * 8 + p]! * b[p * big + big - 1]!;
        assert.ok(Math.abs(c[big * big - 1]! - expected) < 1e-4);
        const view = new Float32Array(32).fill(5).subarray(8, 24);
        wasmBackend().activation('tanh', x, view, 16);
        assert.deepEqual(view, outBefore);
      });
    });
  },
});

const plain = WasmBackend.fromBytes(readFileSync(wasmModulePath(false)));
describeKernelConformance('wasm kernels, the plain SIMD128 build', () => plain);

it('Node here runs the relaxed-SIMD build, and stitch info would say so', () => {
  assert.equal(wasm.relaxed, true, 'Node 20 with --experimental-wasm-relaxed-simd set at run time, or a newer Node, validates wasm/stitch-relaxed.wasm');
  assert.match(wasm.describe(), /^wasm32 SIMD128 kernels \(relaxed SIMD: fused multiply-add\)$/);
  assert.equal(plain.relaxed, false);
});
