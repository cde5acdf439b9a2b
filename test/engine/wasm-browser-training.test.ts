/**
 * The wasm backend in a page: headless Chromium compiles the committed module
 * (`WasmBackend.compile`, the asynchronous path a page's main thread must use) and trains the
 * Decision Transformer steps of browser/train-page.ts with the tensors in the module's memory,
 * as Node's training does. Both builds (plain SIMD128 and relaxed SIMD) are compared with Node
 * running the same bytes: the same losses, gradient norms and final weights, bit for bit (the same
 * kernels in the same order; relaxed SIMD lets an engine fuse or not per machine, and Chromium's
 * V8 and Node's make the same choice on one CPU: measured here, no difference).
 * One thread in the page: threads there need a worker script and cross-origin isolation (docs/engine.md).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { trainDecisionTransformer, TRAINING_STEPS, wasmTrainingBackend, type TrainingRecord } from './browser/train-page.js';
import { webGpuPageDuringSuite } from './browser/webgpu-page.js';
import { loadWasmBackend } from '../../src/engine/backends/wasm-node.js';

const FILES = ['stitch.wasm', 'stitch-relaxed.wasm'];
// Node's loader enables relaxed SIMD where it has to (Node 20: a V8 flag set at run time)
assert.equal(loadWasmBackend(1).relaxed, true, 'this Node runs the relaxed build');
const modules = Object.fromEntries(FILES.map((file) => [`/${file}`, readFileSync(join(process.cwd(), 'wasm', file))]));

describe('training on the wasm backend in headless Chromium', () => {
  const chromium = webGpuPageDuringSuite(new URL('./browser/train-page.js', import.meta.url), 'StitchTraining', modules);

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
});
