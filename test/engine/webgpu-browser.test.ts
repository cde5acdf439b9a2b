/// <reference types="@webgpu/types" />
/**
 * The same WGSL kernels in headless Chromium's own WebGPU (navigator.gpu on SwiftShader): the
 * kernel module is bundled with esbuild into the page, runs a GEMM with transposes, attention
 * forward, a dropout mask and an Adam step, and Node compares the results with the js reference.
 * Tolerances as in webgpu-kernels.test.ts. Skips with the reason when Chromium offers no
 * adapter, unless STITCH_REQUIRE_WEBGPU=1.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AdamStep, AttentionShape } from '../../src/engine/backend.js';
import { JsBackend } from '../../src/engine/backends/js.js';
import { webGpuPageDuringSuite } from './browser/webgpu-page.js';
import { assertClose, randomArray, randomSource, toFloat64 } from './webgpu-helpers.js';

const required = process.env.STITCH_REQUIRE_WEBGPU === '1';

interface PageInput {
  gemm: { m: number; n: number; k: number; a: number[]; b: number[]; c: number[] };
  attention: { shape: AttentionShape; qkv: number[]; keyMask: number[] };
  dropout: { x: number[]; p: number; seed: number };
  adam: { param: number[]; grad: number[]; step: AdamStep };
}

interface PageOutput {
  reason?: string;
  gemm?: number[];
  attentionOut?: number[];
  attentionProbs?: number[];
  dropout?: number[];
  adam?: number[];
}

/** what the page runs: the bundle's exports are on globalThis.StitchWebGpu */
async function runInPage(input: PageInput): Promise<PageOutput> {
  type Library = typeof import('../../src/engine/webgpu/index.js');
  const lib = (globalThis as unknown as { StitchWebGpu: Library }).StitchWebGpu;
  const found = await lib.requestDevice((globalThis as unknown as { navigator: { gpu: GPU } }).navigator.gpu);
  if (!found.ok) return { reason: found.reason };
  const runtime = new lib.GpuRuntime(found.device);
  const gpu = new lib.WebGpuKernels(runtime);
  const up = (values: number[]): ReturnType<typeof runtime.upload> => runtime.upload(Float32Array.from(values));
  const down = async (array: ReturnType<typeof runtime.upload>): Promise<number[]> => Array.from(await runtime.read(array));

  const { m, n, k } = input.gemm;
  const c = up(input.gemm.c);
  gpu.gemm(true, true, m, n, k, 0.5, up(input.gemm.a), m, up(input.gemm.b), k, 2, c, n);

  const { shape } = input.attention;
  const probs = runtime.allocate(shape.batch * shape.heads * shape.tokens * shape.tokens);
  const out = runtime.allocate(shape.batch * shape.tokens * shape.heads * shape.headDim);
  gpu.attention(up(input.attention.qkv), up(input.attention.keyMask), probs, out, shape);

  const dropped = up(input.dropout.x);
  gpu.dropout(dropped, dropped, input.dropout.x.length, input.dropout.p, input.dropout.seed);

  const param = up(input.adam.param);
  const size = input.adam.param.length;
  gpu.adamUpdate(param, up(input.adam.grad), up(new Array<number>(size).fill(0)), up(new Array<number>(size).fill(0)), size, input.adam.step);

  const result = {
    gemm: await down(c), attentionOut: await down(out), attentionProbs: await down(probs),
    dropout: await down(dropped), adam: await down(param),
  };
  found.device.destroy();
  return result;
}

describe('webgpu kernels in headless Chromium', () => {
  const chromium = webGpuPageDuringSuite(new URL('../../src/engine/webgpu/index.js', import.meta.url), 'StitchWebGpu');

  it('GEMM with transposes, attention forward, the dropout mask and Adam match the js reference', async (context) => {
    const random = randomSource(7);
    const [m, n, k] = [19, 23, 29];
    const shape: AttentionShape = { batch: 2, tokens: 9, heads: 2, headDim: 6, causal: true, dropout: 0.25, seed: 2024 };
    const width = shape.heads * shape.headDim;
    const keyMask = new Float32Array(shape.batch * shape.tokens).fill(1);
    keyMask[shape.tokens + 8] = 0;
    const step: AdamStep = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, decoupled: true, biasCorrection1: 0.1, biasCorrection2: 0.001 };
    const data = {
      a: randomArray(random, k * m), b: randomArray(random, n * k), c: randomArray(random, m * n),
      qkv: randomArray(random, shape.batch * shape.tokens * 3 * width, 2),
      x: randomArray(random, 4099).map((v) => v + 2),
      param: randomArray(random, 257), grad: randomArray(random, 257, 0.1),
    };
    const list = (values: Float32Array): number[] => Array.from(values);
    const input: PageInput = {
      gemm: { m, n, k, a: list(data.a), b: list(data.b), c: list(data.c) },
      attention: { shape, qkv: list(data.qkv), keyMask: list(keyMask) },
      dropout: { x: list(data.x), p: 0.3, seed: 99 },
      adam: { param: list(data.param), grad: list(data.grad), step },
    };
    const { page, launchFailure } = chromium;
    if (page === undefined) {
      if (required) assert.fail(`Chromium did not start: ${launchFailure}`);
      context.skip(`Chromium did not start: ${launchFailure}`);
      return;
    }
    const output = await page.evaluate(runInPage, input);
    if (output.reason !== undefined) {
      if (required) assert.fail(`Chromium has no WebGPU device: ${output.reason}`);
      context.skip(`Chromium has no WebGPU device: ${output.reason}`);
      return;
    }

    const js = new JsBackend();
    const c = toFloat64(data.c);
    js.gemm(true, true, m, n, k, 0.5, toFloat64(data.a), m, toFloat64(data.b), k, 2, c, n);
    assertClose(output.gemm!, c, { rtol: 1e-5, atol: 1e-5 }, 'gemm transA transB');

    const probs = new Float64Array(shape.batch * shape.heads * shape.tokens * shape.tokens);
    const out = new Float64Array(shape.batch * shape.tokens * width);
    js.attention(toFloat64(data.qkv), toFloat64(keyMask), probs, out, shape);
    assertClose(output.attentionProbs!, probs, { rtol: 1e-5, atol: 1e-5 }, 'attention probs');
    assertClose(output.attentionOut!, out, { rtol: 1e-5, atol: 1e-5 }, 'attention out');

    const dropped = new Float64Array(data.x.length);
    js.dropout(toFloat64(data.x), dropped, data.x.length, 0.3, 99);
    assert.deepEqual(output.dropout!.map((v) => v === 0), Array.from(dropped, (v) => v === 0), 'dropout mask');

    const param = toFloat64(data.param);
    js.adamUpdate(param, toFloat64(data.grad), new Float64Array(257), new Float64Array(257), 257, step);
    assertClose(output.adam!, param, { rtol: 1e-5, atol: 1e-6 }, 'adamW');
  });
});
