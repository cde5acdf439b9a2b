/**
 * `exportOnnx`: the ONNX file that onnxruntime-node runs gives Stitch's own forward pass (within
 * 1e-5) on random windows, with left padding, for every exportable network: DT, Reinformer, and the
 * actors of QT, RDT and RVDT (deterministic and Gaussian heads). Its metadata tells a runtime the
 * context length, the action bounds and the target returns. onnxruntime-web (wasm backend, served
 * from the package) in headless Chromium gives the same outputs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import type { PolicyContext } from '../../src/algos/algorithm.js';
import { findAlgorithm } from '../../src/algos/registry.js';
import { restorePolicyFromBytes } from '../../src/deploy/index.js';
import { noGrad, Rng, type Tensor } from '../../src/engine/index.js';
import type { TransformerInput } from '../../src/nn/transformer.js';
import { exportOnnx } from '../../src/export/onnx.js';
import { decodeOnnxModel } from '../../src/export/onnx-proto.js';
import { writePolicyFile } from '../../src/train/policy-file.js';
import { launchChromium } from '../report/fixture.js';

const S = 3;
const A = 2;
const K = 4;

const context: PolicyContext = {
  obsDim: S, actionDim: A, stateMean: Float32Array.of(0.1, 0, -0.2), stateStd: Float32Array.of(1, 2, 0.5),
  actionLow: [-1, -0.5], actionHigh: [1, 0.5], maxEpisodeSteps: 20,
};

const network = { context: K, width: 8, layers: 2, heads: 2, maxTimestep: 16 };
const CASES: Array<[string, string, Record<string, unknown>]> = [
  ['dt', 'dt', { ...network, mlpWidth: 16, activation: 'gelu_erf', targetReturns: [10, 5], returnScale: 7 }],
  ['dt (relu)', 'dt', { ...network, mlpWidth: 16, activation: 'relu', targetReturns: [10], returnScale: 7 }],
  ['reinformer', 'reinformer', { ...network, returnScale: 10 }],
  ['qt', 'qt', { ...network, mlpWidth: 16, criticWidth: 8, candidates: 4, targetReturns: [10, 5] }],
  ['rdt (stochastic head)', 'rdt', { ...network, mlpWidth: 16, targetReturns: [10, 5], policy: 'stochastic' }],
  ['rvdt (stochastic head)', 'rvdt', { ...network, mlpWidth: 16, criticWidth: 8, candidates: 4, targetReturns: [10, 5], policy: 'stochastic' }],
];

const directory = mkdtempSync(join(tmpdir(), 'stitch-onnx-'));
after(() => rmSync(directory, { recursive: true, force: true }));

function policyBytes(name: string, rawConfig: Record<string, unknown>): Uint8Array {
  const definition = findAlgorithm(name);
  assert.ok(definition !== undefined);
  const config = definition.configSchema.parse(rawConfig);
  const algorithm = definition.create(config, context, new Rng(5));
  algorithm.setTraining(false);
  const path = join(directory, `${name}.safetensors`);
  writePolicyFile(path, { definition, config, context, algorithm, datasetId: 'tiny', envId: 'tiny', step: 3 });
  return readFileSync(path);
}

interface Windows {
  batch: number;
  observations: Float32Array;
  actions: Float32Array;
  returnsToGo: Float32Array;
  timesteps: Int32Array;
  mask: Float32Array;
}

/** random windows; window b is left-padded by b steps (zeros, mask 0), as acting pads short histories */
function randomWindows(rng: Rng, batch: number): Windows {
  const w: Windows = {
    batch,
    observations: Float32Array.from({ length: batch * K * S }, () => 2 * rng.normal()),
    actions: Float32Array.from({ length: batch * K * A }, () => rng.uniform() * 2 - 1),
    returnsToGo: Float32Array.from({ length: batch * K }, () => 20 * rng.uniform() - 5),
    timesteps: Int32Array.from({ length: batch * K }, (_, i) => (i % K) + 3 * Math.floor(i / K)),
    mask: new Float32Array(batch * K).fill(1),
  };
  // one timestep past the table, which the graph clips as acting does
  w.timesteps[K - 1] = 40;
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < Math.min(b, K - 1); t++) {
      const row = b * K + t;
      w.mask[row] = 0;
      w.observations.fill(0, row * S, (row + 1) * S);
      w.actions.fill(0, row * A, (row + 1) * A);
      w.returnsToGo[row] = 0;
      w.timesteps[row] = 0;
    }
  }
  return w;
}

/** Stitch's own forward pass on the same windows: normalization, scaling and clipping done as acting does them */
function stitchForward(bytes: Uint8Array, w: Windows): { actions: Float32Array; returns?: Float32Array } {
  const restored = restorePolicyFromBytes(bytes);
  const states = new Float32Array(w.observations.length);
  for (let i = 0; i < states.length; i++) states[i] = ((w.observations[i] as number) - (context.stateMean[i % S] as number)) / (context.stateStd[i % S] as number);
  const scale = restored.header.returnScale;
  const input: TransformerInput = {
    batchSize: w.batch, states, actions: w.actions,
    returnsToGo: Float32Array.from(w.returnsToGo, (r) => r / scale),
    timesteps: Int32Array.from(w.timesteps, (t) => Math.min(t, network.maxTimestep - 1)),
    mask: w.mask,
  };
  const modules = restored.model.policyModules();
  const net = (modules.model ?? modules.actor) as unknown as { forward(batch: TransformerInput): Tensor | { returns: Tensor; actionMeans: Tensor } };
  return noGrad(() => {
    const out = net.forward(input);
    if ('actionMeans' in out) return { actions: Float32Array.from(out.actionMeans.data), returns: Float32Array.from(out.returns.data, (r) => r * scale) };
    return { actions: Float32Array.from(out.data) };
  });
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

describe('ONNX export: onnxruntime gives Stitch\'s forward pass', () => {
  for (const [label, name, config] of CASES) {
    it(`${label}: within 1e-5 on random windows with padding`, async () => {
      const bytes = policyBytes(name, config);
      const onnx = exportOnnx(restorePolicyFromBytes(bytes), 'test');
      const session = await ort.InferenceSession.create(onnx);
      const w = randomWindows(new Rng(17), 4);
      const feeds: Record<string, ort.Tensor> = {
        observations: new ort.Tensor('float32', w.observations, [w.batch, K, S]),
        actions: new ort.Tensor('float32', w.actions, [w.batch, K, A]),
        returns_to_go: new ort.Tensor('float32', w.returnsToGo, [w.batch, K, 1]),
        timesteps: new ort.Tensor('int64', BigInt64Array.from(w.timesteps, (t) => BigInt(t)), [w.batch, K]),
      };
      if (session.inputNames.includes('attention_mask')) feeds.attention_mask = new ort.Tensor('float32', w.mask, [w.batch, K]);
      const result = await session.run(feeds);
      const expected = stitchForward(bytes, w);
      const actions = result.predicted_actions;
      assert.ok(actions !== undefined);
      assert.deepEqual(actions.dims, [w.batch, K, A]);
      const difference = maxDifference(actions.data as Float32Array, expected.actions);
      assert.ok(difference <= 1e-5, `actions differ by ${difference}`);
      if (expected.returns !== undefined) {
        const returns = result.predicted_returns;
        assert.ok(returns !== undefined);
        const returnDifference = maxDifference(returns.data as Float32Array, expected.returns);
        assert.ok(returnDifference <= 1e-5 * Math.max(1, ...Array.from(expected.returns, Math.abs)), `returns differ by ${returnDifference}`);
      }
      await session.release();
    });
  }

  it('carries what a runtime needs as metadata: context length, action bounds, target returns, return scale', () => {
    const onnx = exportOnnx(restorePolicyFromBytes(policyBytes('dt', CASES[0]?.[2] ?? {})), '1.2.3');
    const model = decodeOnnxModel(onnx);
    const metadata = Object.fromEntries(model.metadata_props.map(({ key, value }) => [key, value]));
    assert.equal(metadata.algorithm, 'dt');
    assert.equal(metadata.contextLength, String(K));
    assert.deepEqual(JSON.parse(metadata.actionLow ?? ''), [-1, -0.5]);
    assert.deepEqual(JSON.parse(metadata.actionHigh ?? ''), [1, 0.5]);
    assert.deepEqual(JSON.parse(metadata.targetReturns ?? ''), [10, 5]);
    assert.equal(metadata.returnScale, '7');
    assert.equal(model.producer_name, 'stitch-rl');
    assert.equal(model.producer_version, '1.2.3');
    assert.deepEqual(model.graph.input.map((input) => input.name), ['observations', 'actions', 'returns_to_go', 'timesteps', 'attention_mask']);
  });
});

const ORT_WEB_DIST = fileURLToPath(new URL('../../../node_modules/onnxruntime-web/dist/', import.meta.url));

/** serves onnxruntime-web's files under /ort/, a blank page at /, and each model at /model/<i>.onnx */
function serveOrtWeb(models: Uint8Array[]): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const model = /^\/model\/(\d+)\.onnx$/.exec(path);
    if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>ort-web</title>');
    } else if (model !== null && models[Number(model[1])] !== undefined) {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' }).end(models[Number(model[1])]);
    } else if (/^\/ort\/[\w.-]+$/.test(path)) {
      try {
        const bytes = readFileSync(join(ORT_WEB_DIST, path.slice('/ort/'.length)));
        const type = path.endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
        res.writeHead(200, { 'Content-Type': type }).end(bytes);
      } catch {
        res.writeHead(404).end();
      }
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server })));
}

describe('ONNX export: onnxruntime-web (wasm) in headless Chromium', () => {
  it('gives Stitch\'s forward pass within 1e-5 for every exportable network', async () => {
    const cases = CASES.map(([label, name, config]) => {
      const bytes = policyBytes(name, config);
      return { label, bytes, onnx: exportOnnx(restorePolicyFromBytes(bytes), 'test'), windows: randomWindows(new Rng(23), 3) };
    });
    const { url, server } = await serveOrtWeb(cases.map((c) => c.onnx));
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(url);
      const inputs = cases.map(({ windows: w }) => ({
        batch: w.batch, observations: Array.from(w.observations), actions: Array.from(w.actions), returnsToGo: Array.from(w.returnsToGo),
        timesteps: Array.from(w.timesteps), mask: Array.from(w.mask),
      }));
      // a string expression: this file is compiled without the DOM library
      const results = await page.evaluate(`(async () => {
        const ort = await import('/ort/ort.wasm.min.mjs');
        ort.env.wasm.numThreads = 1;
        ort.env.wasm.wasmPaths = '/ort/';
        const inputs = ${JSON.stringify(inputs)};
        const out = [];
        for (let i = 0; i < inputs.length; i++) {
          const w = inputs[i];
          const session = await ort.InferenceSession.create('/model/' + i + '.onnx', { executionProviders: ['wasm'] });
          const feeds = {
            observations: new ort.Tensor('float32', Float32Array.from(w.observations), [w.batch, ${K}, ${S}]),
            actions: new ort.Tensor('float32', Float32Array.from(w.actions), [w.batch, ${K}, ${A}]),
            returns_to_go: new ort.Tensor('float32', Float32Array.from(w.returnsToGo), [w.batch, ${K}, 1]),
            timesteps: new ort.Tensor('int64', BigInt64Array.from(w.timesteps, (t) => BigInt(t)), [w.batch, ${K}]),
          };
          if (session.inputNames.includes('attention_mask')) feeds.attention_mask = new ort.Tensor('float32', Float32Array.from(w.mask), [w.batch, ${K}]);
          const result = await session.run(feeds);
          out.push({ actions: Array.from(result.predicted_actions.data), returns: result.predicted_returns ? Array.from(result.predicted_returns.data) : null });
        }
        return out;
      })()`) as Array<{ actions: number[]; returns: number[] | null }>;
      cases.forEach((c, i) => {
        const expected = stitchForward(c.bytes, c.windows);
        const got = results[i];
        assert.ok(got !== undefined);
        const difference = maxDifference(got.actions, expected.actions);
        assert.ok(difference <= 1e-5, `${c.label}: actions differ by ${difference}`);
        if (expected.returns !== undefined) {
          assert.ok(got.returns !== null);
          const scale = Math.max(1, ...Array.from(expected.returns, Math.abs));
          assert.ok(maxDifference(got.returns, expected.returns) <= 1e-5 * scale, `${c.label}: returns differ`);
        }
      });
    } finally {
      await browser.close();
      server.closeAllConnections();
      server.close();
    }
  });
});
