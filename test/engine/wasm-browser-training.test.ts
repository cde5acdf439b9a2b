/**
 * The wasm backend in a page: headless Chromium compiles the committed module
 * (`WasmBackend.compile`, the asynchronous path a page's main thread must use) and trains the
 * Decision Transformer steps of browser/train-page.ts with the tensors in the module's memory,
 * as Node's training does. Both builds (plain SIMD128 and relaxed SIMD) are compared with Node
 * running the same bytes: the same losses, gradient norms and final weights, bit for bit (the same
 * kernels in the same order; relaxed SIMD lets an engine fuse or not per machine, and Chromium's
 * V8 and Node's make the same choice on one CPU: measured here, no difference).
 * Then two threads in a cross-origin isolated page: training runs in a worker (a page's main
 * thread may not block), which starts a GEMM worker (wasm-worker-web.ts) and splits a product with
 * it; the results equal Node's, bit for bit, whatever the thread count.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { splitProduct, trainDecisionTransformer, TRAINING_STEPS, wasmTrainingBackend, type TrainingRecord } from './browser/train-page.js';
import { webGpuPageDuringSuite } from './browser/webgpu-page.js';
import { loadWasmBackend } from '../../src/engine/backends/wasm-node.js';

const FILES = ['stitch.wasm', 'stitch-relaxed.wasm'];
// Node's loader enables relaxed SIMD where it has to (Node 20: a V8 flag set at run time)
assert.equal(loadWasmBackend(1).relaxed, true, 'this Node runs the relaxed build');
const modules = Object.fromEntries(FILES.map((file) => [`/${file}`, readFileSync(join(process.cwd(), 'wasm', file))]));

describe('training on the wasm backend in headless Chromium', () => {
  const chromium = webGpuPageDuringSuite(new URL('./browser/train-page.js', import.meta.url), 'StitchTraining', {
    files: modules,
    bundles: {
      '/train-worker.js': new URL('./browser/wasm-train-worker.js', import.meta.url),
      '/gemm-worker.js': new URL('../../src/engine/backends/wasm-worker-web.js', import.meta.url),
    },
    isolated: true,
  });

  for (const file of FILES) {
    it(`${file}: the page trains five DT steps, bit-identical to Node on the same module`, async () => {
      assert.ok(chromium.page !== undefined, `Chromium did not start: ${chromium.launchFailure}`);
      type Library = typeof import('./browser/train-page.js');
      const inBrowser = await chromium.page.evaluate(
        (name) => (globalThis as unknown as { StitchTraining: Library }).StitchTraining.trainWasmInPage(name),
        file,
      ) as TrainingRecord;
      assert.equal(inBrowser.losses.length, TRAINING_STEPS);
      assert.match(inBrowser.adapter, /^wasm32 SIMD128 kernels/);
      assert.ok(inBrowser.losses.at(-1)! < 0.5 * inBrowser.losses[0]!, `the loss falls by more than half: ${inBrowser.losses.join(', ')}`);
      const inNode = await trainDecisionTransformer(await wasmTrainingBackend(modules[`/${file}`]!, file.includes('relaxed')));
      assert.deepEqual(inBrowser.learningRates, inNode.learningRates);
      assert.deepEqual(inBrowser.losses, inNode.losses, 'the losses, bit for bit');
      assert.deepEqual(inBrowser.gradNorms, inNode.gradNorms, 'the gradient norms, bit for bit');
      assert.deepEqual(inBrowser.weights, inNode.weights, 'the final weights, bit for bit');
    });
  }

  it('two threads in the page: training in a worker with a GEMM worker, the split product and the steps bit-identical to Node', async () => {
    assert.ok(chromium.page !== undefined, `Chromium did not start: ${chromium.launchFailure}`);
    const file = 'stitch-relaxed.wasm';
    const result = await chromium.page.evaluate(async (name) => {
      const scope = globalThis as unknown as { crossOriginIsolated: boolean; Worker: new (url: string) => { postMessage(value: unknown): void; onmessage: ((event: { data: unknown }) => void) | null; terminate(): void } };
      if (!scope.crossOriginIsolated) return { error: 'the page is not cross-origin isolated' };
      const worker = new scope.Worker('/train-worker.js');
      const answer = await new Promise<unknown>((resolve) => {
        worker.onmessage = ({ data }) => resolve(data);
        worker.postMessage({ file: name });
      });
      worker.terminate();
      return answer;
    }, file) as { error?: string; record: TrainingRecord; product: number[]; threads: number; starting: number; workerJobs: number; describe: string };
    assert.equal(result.error, undefined, result.error);
    assert.equal(result.threads, 2, result.describe);
    assert.equal(result.starting, 0, 'the GEMM worker started');
    assert.ok(result.workerJobs >= 1, `the GEMM worker ran part of the split product (jobs: ${result.workerJobs})`);
    const device = await wasmTrainingBackend(modules[`/${file}`]!, true);
    const inNode = await trainDecisionTransformer(device);
    assert.deepEqual(result.record.losses, inNode.losses, 'the losses, bit for bit');
    assert.deepEqual(result.record.weights, inNode.weights, 'the final weights, bit for bit');
    assert.deepEqual(result.product, await splitProduct(device), 'the split product equals one thread\'s, bit for bit');
  });
});
