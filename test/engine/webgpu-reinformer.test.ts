/**
 * Reinformer trains on the webgpu backend (SwiftShader without a GPU). The PyTorch fixture that
 * test/algos/reinformer.test.ts checks on the CPU is reproduced with every tensor on the device:
 * return predictions, action means, every loss term and gradient, then update(): the logged terms
 * (read after the step, never during it), the weights after the clipped LAMB step and log λ after
 * its Adam step. Three steps with dropout and log σ on its own Adam track the CPU backend's
 * (measured 2.2e-7), and a warm step creates no device buffer. A NaN in the batch is refused on
 * the device and named when the step is read.
 *
 * Tolerance: relative error 1e-4 (the CPU test's bound) for the outputs, the terms, the gradients,
 * the weights after LAMB and the LAMB step itself (the CPU test allows 1e-3 there). WGSL has no
 * float64, so every reduction (LayerNorm statistics, softmax sums, the loss means, the gradient
 * norms, LAMB's per-tensor trust-ratio norms) sums in float32 trees where the CPU kernels sum in
 * float64; on this small fixture that costs little. Worst relative errors measured on SwiftShader
 * (the CPU's in brackets): outputs and terms 2.0e-7 (1.6e-7), gradients 5.7e-7 (4.3e-7), weights
 * after LAMB 6.2e-6 (4.5e-6), the LAMB step 1.8e-5. The bound is kept at the CPU's rather than
 * just above these figures, because another adapter sums in another order.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { metricsNow, readMetrics, type PolicyContext } from '../../src/algos/algorithm.js';
import { reinformer, ReinformerNetwork, reinformerLosses } from '../../src/algos/reinformer.js';
import type { WindowBatch } from '../../src/data/sampler.js';
import { readStorage, Rng, Scalar, setBackend, stageUploads, Tensor } from '../../src/engine/index.js';
import { loadModuleTensors } from '../../src/nn/checkpoint.js';
import { NonFiniteError, settleFiniteChecks, takeDeferredChecks } from '../../src/nn/nonfinite.js';
import { assertRelativeClose } from '../helpers/fixtures.js';
import { openReinformerFixture } from '../helpers/reinformer-fixture.js';
import { activeDuringSuite, testWebGpu } from './webgpu-helpers.js';

const TOLERANCE = 1e-4;

/** the key biases' gradient is rounding noise (softmax ignores them): see test/algos/reinformer.test.ts */
const zeroGradient = (name: string): boolean => name.endsWith('.attn.key.bias');

const { gpu, skip } = await testWebGpu();

describe('Reinformer on the webgpu backend: the PyTorch fixture step', { skip }, () => {
  const fixture = openReinformerFixture();
  const { tensor, prefixed, path: fixturePath, network, expectile, lamb, K, A, initialLogTemperature } = fixture;
  const fixtureBatch = fixture.batch;
  const staged = (batch: WindowBatch): (() => void) => stageUploads([batch.states, batch.actions, batch.returnsToGo, batch.timesteps, batch.mask]);
  const worst = { outputs: 0, gradients: 0, weights: 0, step: 0, steps: 0 };

  /** the training algorithm at the fixture's weights, every parameter on the device */
  function fixtureAlgorithm() {
    const created = fixture.algorithm();
    created.model.place();
    created.temperature.place();
    return created;
  }

  const previousBackend = activeDuringSuite(gpu!);
  after(() => {
    const format = (value: number): string => value.toExponential(2);
    console.log(`webgpu reinformer parity worst relative error: outputs ${format(worst.outputs)}, gradients ${format(worst.gradients)}, after LAMB ${format(worst.weights)}, LAMB step ${format(worst.step)}; three steps against the CPU ${format(worst.steps)}`);
  });

  it('predicts the returns, action means and loss terms, and computes every gradient, with λ a device tensor', async () => {
    const model = new ReinformerNetwork(network, new Rng(0));
    loadModuleTensors(model, prefixed('param.'), fixturePath);
    model.place();
    assert.ok(model.parameters().every((p) => p.onDevice), 'every parameter lives on the device');
    const batch = fixtureBatch();
    const unstage = staged(batch);
    model.zeroGrad();
    // outside tidy, so the outputs survive until they are read
    const losses = reinformerLosses(model, batch, { expectile, temperature: Tensor.scalar(Math.exp(initialLogTemperature)) });
    losses.total.backward();
    unstage();
    const values = await Promise.all([losses.returns, losses.actionMeans, losses.returnLoss, losses.actionNll, losses.entropy, losses.actionLoss, losses.total].map((t) => t.read()));
    const [returns, actionMeans, ...terms] = values as [Float32Array, Float32Array, ...Float32Array[]];
    worst.outputs = Math.max(
      assertRelativeClose('return predictions', returns, tensor('output.return_preds').data, TOLERANCE),
      assertRelativeClose('action means', actionMeans, tensor('output.action_means').data, TOLERANCE),
      ...['return_loss', 'action_nll', 'entropy', 'action_loss', 'loss'].map((name, i) => assertRelativeClose(name, terms[i]!, tensor(`output.${name}`).data, TOLERANCE)),
    );

    const gradientScale = Math.max(...model.namedParameters().map(([name]) => Math.max(...[...tensor(`grad.${name}`).data].map(Math.abs))));
    for (const [name, p] of model.namedParameters()) {
      const gradient = await readStorage(p.gradOrZeros(), p.size);
      if (zeroGradient(name)) {
        const largest = Math.max(...[...gradient].map(Math.abs));
        assert.ok(largest <= TOLERANCE * gradientScale, `gradient of ${name} should vanish: ${largest}`);
        continue;
      }
      worst.gradients = Math.max(worst.gradients, assertRelativeClose(`gradient of ${name}`, gradient, tensor(`grad.${name}`).data, TOLERANCE));
    }
    assert.equal((await readStorage(model.action_log_std.gradOrZeros(), A))[2], 0, 'the clamp cuts the gradient of the log-std above 2');
  });

  it('update(): nothing is read during the step; the logged terms, the LAMB step and the temperature step match PyTorch', async () => {
    const { algorithm, model, temperature } = fixtureAlgorithm();
    const runtime = gpu!.runtime;
    const batch = fixtureBatch();
    const uploadsBefore = runtime.stats.uploads;
    const unstage = staged(batch);
    const logged = algorithm.update(batch, 0);
    unstage();
    assert.equal(runtime.stats.uploads - uploadsBefore, 1, 'the staged batch is the step\'s only upload');
    for (const [name, value] of Object.entries(logged)) {
      if (name === 'lr') continue;
      assert.ok(value instanceof Scalar && value.known === undefined, `${name} stays on the device until read`);
    }
    const checks = takeDeferredChecks();
    assert.deepEqual(checks.map((check) => `${check.term}:${check.kind}`), [
      'loss:loss', 'loss:gradient', 'loss:weights', 'temperature_loss:loss', 'temperature_loss:gradient', 'temperature_loss:weights',
    ]);
    await settleFiniteChecks(checks);

    const values = await readMetrics(logged);
    for (const name of ['return_loss', 'action_nll', 'entropy', 'action_loss', 'loss', 'temperature_loss', 'grad_norm']) {
      worst.outputs = Math.max(worst.outputs, assertRelativeClose(`logged ${name}`, [values[name]!], tensor(`output.${name}`).data, TOLERANCE));
    }
    assert.equal(values.lr, lamb.lr);
    assertRelativeClose('logged temperature', [values.temperature!], [Math.exp(initialLogTemperature)], TOLERANCE);

    for (const [name, p] of model.namedParameters()) {
      if (zeroGradient(name)) continue;
      const before = tensor(`param.${name}`).data;
      const expected = tensor(`after_lamb.${name}`).data;
      const weights = await p.read();
      worst.weights = Math.max(worst.weights, assertRelativeClose(`${name} after one LAMB step`, weights, expected, TOLERANCE));
      // the step itself, where the gradient resolves Adam's direction (see test/algos/reinformer.test.ts)
      const gradient = tensor(`grad.${name}`).data;
      const resolved = (i: number): boolean => Math.abs(gradient[i] as number) > 1e-6;
      const step = Float64Array.from(weights, (v, i) => (resolved(i) ? v - (before[i] as number) : 0));
      const expectedStep = Float64Array.from(expected, (v, i) => (resolved(i) ? v - (before[i] as number) : 0));
      worst.step = Math.max(worst.step, assertRelativeClose(`${name}: the LAMB step`, step, expectedStep, TOLERANCE));
    }
    const [logTemperature] = temperature.parameters();
    assert.ok(logTemperature !== undefined && logTemperature.onDevice);
    const afterTemperature = (await logTemperature.read())[0] as number;
    assertRelativeClose('log temperature after its Adam step', [afterTemperature], tensor('output.log_temperature_after').data, TOLERANCE);
    assertRelativeClose('log temperature step', [afterTemperature - initialLogTemperature], tensor('output.log_temperature_step').data, 5e-3);
  });

  it('three training steps with dropout and log σ on its own Adam track the CPU backend\'s steps', async () => {
    const size = { S: 3, A: 2, K: 4, B: 6 };
    const config = reinformer.configSchema.parse({
      context: size.K, width: 16, layers: 2, heads: 2, maxTimestep: 32, dropout: 0.1, batchSize: size.B,
      warmupSteps: 2, lr: 1e-3, logStdOptimizer: 'adam', logStdLr: 1e-2,
    });
    const context: PolicyContext = {
      obsDim: size.S, actionDim: size.A, stateMean: new Float32Array(size.S), stateStd: new Float32Array(size.S).fill(1),
      actionLow: new Array<number>(size.A).fill(-1), actionHigh: new Array<number>(size.A).fill(1), maxEpisodeSteps: 100,
    };
    const data = new Rng(11);
    const values = (n: number, draw: () => number): Float32Array => Float32Array.from({ length: n }, draw);
    const cells = size.B * size.K;
    const batches: WindowBatch[] = [0, 1, 2].map(() => ({
      batchSize: size.B, contextLength: size.K, obsDim: size.S, actionDim: size.A,
      states: values(cells * size.S, () => data.normal()), actions: values(cells * size.A, () => 1.8 * data.uniform() - 0.9),
      returnsToGo: values(cells, () => 3 * data.uniform()), timesteps: Int32Array.from({ length: cells }, (_, i) => i % size.K),
      // the first window is right-padded after two steps
      mask: Float32Array.from({ length: cells }, (_, i) => (i < size.K && i % size.K >= 2 ? 0 : 1)),
      rewards: new Float32Array(cells), terminated: new Float32Array(cells),
      episodes: Int32Array.from({ length: size.B }, (_, b) => b), starts: new Int32Array(size.B),
    }));

    // the CPU run (the dropout masks come from the same counter-based stream on both backends)
    setBackend(previousBackend());
    const onCpu = reinformer.create(config, context, new Rng(3));
    onCpu.setTraining(true);
    const cpuMetrics = batches.map((batch, step) => metricsNow(onCpu.update(batch, step)));
    setBackend(gpu!);

    const onDevice = reinformer.create(config, context, new Rng(3));
    for (const module of Object.values(onDevice.modules())) module.place();
    onDevice.setTraining(true);
    const deviceMetrics: Record<string, number>[] = [];
    const { stats } = gpu!.runtime;
    const created: number[] = [];
    for (const [step, batch] of batches.entries()) {
      created.push(stats.buffersCreated);
      const unstage = staged(batch);
      const logged = onDevice.update(batch, step);
      unstage();
      const checks = takeDeferredChecks();
      assert.ok(checks.some((check) => check.term === 'action_log_std'), 'log σ\'s own step is checked too');
      await settleFiniteChecks(checks);
      deviceMetrics.push(await readMetrics(logged));
    }
    // every buffer a step takes goes back to the pool: once warm, a step creates none
    assert.equal(stats.buffersCreated, created[2], 'the third step creates no device buffer');
    for (const [step, expected] of cpuMetrics.entries()) {
      for (const [name, value] of Object.entries(expected)) {
        worst.steps = Math.max(worst.steps, assertRelativeClose(`step ${step + 1}: ${name}`, [deviceMetrics[step]![name]!], [value], TOLERANCE));
      }
    }
    const cpuModules = onCpu.modules();
    for (const [moduleName, module] of Object.entries(onDevice.modules())) {
      const cpuParameters = new Map(cpuModules[moduleName]!.namedParameters());
      for (const [name, p] of module.namedParameters()) {
        // a zero gradient's Adam direction is rounding noise on either backend, which the trust ratio scales up
        if (zeroGradient(name)) continue;
        worst.steps = Math.max(worst.steps, assertRelativeClose(`${moduleName}.${name} after three steps`, await p.read(), cpuParameters.get(name)!.data, TOLERANCE));
      }
    }
    const logStd = onDevice.modules().model!.namedParameters().find(([name]) => name === 'action_log_std')![1];
    assert.ok((await logStd.read()).some((v) => Math.abs(v) > 1e-3), 'log σ moved under its own Adam');
  });

  it('a NaN action never reaches the weights (nor the temperature, whose own loss is finite), and reading the step names action_nll', async () => {
    const { algorithm, model, temperature } = fixtureAlgorithm();
    const batch = fixtureBatch();
    // the window's last action: the last token, which no prediction attends to, so only the likelihood sees it
    batch.actions[(K - 1) * A] = Number.NaN;
    const unstage = staged(batch);
    const logged = algorithm.update(batch, 0);
    unstage();
    await assert.rejects(settleFiniteChecks(takeDeferredChecks()), (error: unknown) =>
      error instanceof NonFiniteError && error.term === 'loss' && /loss is NaN \(action_nll = NaN, action_loss = NaN\)/.test(error.message));
    const values = await readMetrics(logged);
    assert.ok(Number.isFinite(values.return_loss) && Number.isNaN(values.action_nll));
    for (const [name, p] of model.namedParameters()) {
      assert.deepEqual(Array.from(await p.read()), Array.from(Float32Array.from(tensor(`param.${name}`).data)), `${name} is unchanged`);
    }
    // on the CPU the network step's error stops the whole update; on a device its guard holds the temperature step back
    for (const [name, p] of temperature.namedParameters()) {
      assert.deepEqual(Array.from(await p.read()), Array.from(Float32Array.from(tensor(`temperature.${name}`).data)), `temperature ${name} is unchanged`);
    }
  });
});
