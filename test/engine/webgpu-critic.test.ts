/**
 * The critic-regularized algorithms on the webgpu backend (SwiftShader without a GPU): QT's update
 * (n-step targets from the EMA actor and the target critics, the twin critic step, the actor step
 * through the updated critic with its detached Q normalizer, EMA and Polyak updates) runs on the
 * device and reads nothing on the host; its logged terms come back as Scalars, read once the step
 * is queued.
 *
 * - QT's PyTorch fixture step (the one test/algos/qt-parity.test.ts checks on the CPU) is reproduced:
 *   logged losses and gradient norms, every weight of the four modules after the step, and the soft
 *   updates' moves. Tolerance: relative error 1e-4, the CPU's (moves: 1e-3, the CPU's). WGSL has no
 *   float64, so the reductions (LayerNorm statistics, softmax sums, mseRows, the gradient norms) sum
 *   in float32 trees where the CPU kernels sum in float64; measured on SwiftShader: logged terms
 *   6.4e-8, weights 5.1e-5, moves 2.1e-4.
 * - RDT and RVDT take three same-seed steps on webgpu and on the CPU backend (native, else js) with
 *   the same batches: the same dropout masks and the same host-drawn noise, so logged terms and
 *   weights agree up to float32 summation order. Tolerance 1e-5 relative; measured 2.5e-7 (terms)
 *   and 5.6e-7 (weights), except the attention's key bias (see below).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readMetrics, type Algorithm, type AnyAlgorithmDefinition, type StepMetrics } from '../../src/algos/algorithm.js';
import { QtConfigSchema } from '../../src/algos/qt.js';
import type { QNumerator } from '../../src/algos/parts/critic.js';
import { rdtAlgorithm } from '../../src/algos/rdt.js';
import { rvdtAlgorithm } from '../../src/algos/rvdt.js';
import type { WindowBatch } from '../../src/data/sampler.js';
import { Rng, Scalar, setBackend, stageUploads, type TensorBackend } from '../../src/engine/index.js';
import { createBackend, hostTensorBackend, tryNativeBackend } from '../../src/engine/backends/index.js';
import { NativeBackend } from '../../src/engine/backends/native.js';
import { WebGpuBackend } from '../../src/engine/backends/webgpu.js';
import { loadModuleTensors } from '../../src/nn/checkpoint.js';
import { settleFiniteChecks, takeDeferredChecks } from '../../src/nn/nonfinite.js';
import { placeAlgorithm } from '../../src/train/residency.js';
import { A, qtFixtureContext as context, ReplayedCoinQt, S } from '../helpers/qt-fixture.js';
import { assertRelativeClose, openTorchFixture } from '../helpers/fixtures.js';
import { activeDuringSuite, testWebGpu } from './webgpu-helpers.js';

const PARITY_TOLERANCE = 1e-4;
const CPU_TOLERANCE = 1e-5;

const { gpu, skip } = await testWebGpu();
const native = tryNativeBackend();

function batchArrays(batch: WindowBatch): (Float32Array | Int32Array)[] {
  return [batch.states, batch.actions, batch.rewards, batch.returnsToGo, batch.mask, batch.terminated, batch.timesteps];
}

/**
 * One update on the active device backend as the trainer runs it (the batch staged in one upload);
 * asserts that nothing was read while it was queued and that every logged Scalar is still unknown.
 */
function deviceUpdate(device: WebGpuBackend, algorithm: Algorithm, batch: WindowBatch, step: number): StepMetrics {
  const readsBefore = device.reads;
  const unstage = stageUploads(batchArrays(batch));
  let metrics: StepMetrics;
  try {
    metrics = algorithm.update(batch, step);
  } finally {
    unstage();
  }
  assert.equal(device.reads, readsBefore, 'the update read nothing from the device');
  for (const [name, value] of Object.entries(metrics)) {
    if (value instanceof Scalar) assert.equal(value.known, undefined, `${name} stays on the device until read`);
    else assert.ok(name.startsWith('lr') || name === 'expert_share', `${name} is a host number: only learning rates and batch facts may be`);
  }
  return metrics;
}

async function readModules(algorithm: Algorithm): Promise<Map<string, Float32Array | Float64Array>> {
  const values = new Map<string, Float32Array | Float64Array>();
  for (const [module, value] of Object.entries(algorithm.modules())) {
    for (const [name, p] of value.namedParameters()) values.set(`${module}.${name}`, await p.read());
  }
  return values;
}

describe('critic-regularized training on the webgpu backend', { skip }, () => {
  const device = gpu!;
  const cpu: TensorBackend = native instanceof NativeBackend ? hostTensorBackend(native) : createBackend('js').backend;
  activeDuringSuite(device);

  it('reproduces the PyTorch QT step of qt_step.safetensors: logged losses and norms, all four modules after the step', async () => {
    const fixture = openTorchFixture('qt_step.safetensors');
    const { tensor, prefixed } = fixture;
    const stored = JSON.parse(fixture.metadata.config ?? '{}') as Record<string, unknown>;
    const config = QtConfigSchema.parse({ ...stored, targetReturns: [1], candidates: 1 });
    const B = config.batchSize;
    const K = config.context;
    const rtg = tensor('input.rtg').data;
    const mask = Float32Array.from(tensor('input.mask').data);
    const batch: WindowBatch = {
      batchSize: B, contextLength: K, obsDim: S, actionDim: A,
      states: Float32Array.from(tensor('input.states').data),
      actions: Float32Array.from(tensor('input.actions').data),
      rewards: Float32Array.from(tensor('input.rewards').data),
      // the reference's rtg has K + 1 steps; the network reads the first K
      returnsToGo: Float32Array.from({ length: B * K }, (_, i) => rtg[Math.floor(i / K) * (K + 1) + (i % K)] as number),
      mask,
      // the reference's terminal flag is dones[:, -1] (get_batch pads dones with 1 at padding)
      terminated: Float32Array.from(tensor('input.dones').data, (d, i) => ((mask[i] as number) === 1 ? d : 0)),
      timesteps: Int32Array.from(tensor('input.timesteps').data),
      episodes: new Int32Array(B), starts: new Int32Array(B),
    };

    // made and loaded as the trainer does: in host memory under the device backend, then placed
    const algorithm = new ReplayedCoinQt(config, fixture.metadata.numerator as QNumerator);
    for (const [module, value] of Object.entries(algorithm.modules())) loadModuleTensors(value, prefixed(`param.${module}.`), `param.${module}`);
    placeAlgorithm(algorithm);
    assert.ok(Object.values(algorithm.modules()).every((m) => m.parameters().every((p) => p.onDevice)), 'every parameter lives on the device');

    const step = Number(fixture.metadata.step);
    assert.ok(step > config.emaStart && step % config.emaEvery === 0, 'the fixture\'s step blends the EMA actor too');
    const metrics = deviceUpdate(device, algorithm, batch, step);
    await settleFiniteChecks(takeDeferredChecks());
    const logs = await readMetrics(metrics);
    for (const name of ['critic_loss', 'actor_loss', 'bc_loss', 'action_loss', 'state_loss', 'q_loss', 'critic_grad_norm', 'actor_grad_norm']) {
      assertRelativeClose(`logged ${name}`, [logs[name] ?? NaN], tensor(`output.${name}`).data, PARITY_TOLERANCE);
    }
    const stepped = await readModules(algorithm);
    for (const [name, values] of stepped) {
      const initial = tensor(`param.${name}`).data;
      const expected = tensor(`after.${name}`).data;
      assertRelativeClose(`${name} after the step`, values, expected, PARITY_TOLERANCE);
      // the soft updates move weights by 0.5% of a gap: compare the moves themselves too (1e-3, as on the CPU)
      const moved = Float64Array.from(values, (v, i) => v - (initial[i] as number));
      const expectedMove = Float64Array.from(expected, (v, i) => v - (initial[i] as number));
      assertRelativeClose(`${name}: the step's change`, moved, expectedMove, 1e-3);
    }
  });

  const rebalanced = { expertEpisodes: Uint8Array.from([1, 0, 0, 1, 0, 0]), metadata: {} };
  const TINY = { context: 4, width: 16, layers: 1, heads: 2, mlpWidth: 32, maxTimestep: 64, batchSize: 6, dropout: 0.1, targetReturns: [1] };

  /** windows of random data; window 0 left-padded by two, window 1 ending in a terminal step */
  function randomBatch(rng: Rng, B: number, K: number): WindowBatch {
    const mask = new Float32Array(B * K).fill(1);
    mask.fill(0, 0, 2);
    const terminated = new Float32Array(B * K);
    terminated[2 * K - 1] = 1;
    return {
      batchSize: B, contextLength: K, obsDim: S, actionDim: A,
      states: Float32Array.from({ length: B * K * S }, () => rng.normal()),
      actions: Float32Array.from({ length: B * K * A }, () => Math.tanh(rng.normal())),
      rewards: Float32Array.from({ length: B * K }, () => rng.normal()),
      returnsToGo: Float32Array.from({ length: B * K }, () => rng.uniform()),
      mask, terminated,
      timesteps: Int32Array.from({ length: B * K }, (_, i) => i % K),
      episodes: Int32Array.from({ length: B }, (_, b) => b), starts: new Int32Array(B),
    };
  }

  const cases: { label: string; definition: AnyAlgorithmDefinition; config: Record<string, unknown> }[] = [
    { label: 'RDT (rdt: Gaussian head, kl-weighted NLL)', definition: rdtAlgorithm, config: { ...TINY, variant: 'rdt' } },
    { label: 'RVDT (rvdt: Gaussian head, Q-term at a reparameterized sample)', definition: rvdtAlgorithm, config: { ...TINY, candidates: 1, criticWidth: 16, variant: 'rvdt' } },
    { label: 'RVDT (rvdt-determ: tanh head, split kl)', definition: rvdtAlgorithm, config: { ...TINY, candidates: 1, criticWidth: 16, variant: 'rvdt-determ', klNormalization: 'split' } },
  ];
  for (const { label, definition, config: overrides } of cases) {
    it(`${label}: same-seed steps on webgpu and on the CPU log the same terms and end with the same weights`, async () => {
      const config = definition.configSchema.parse(overrides);
      setBackend(cpu);
      const reference = definition.create(config, context, new Rng(3), rebalanced);
      setBackend(device);
      const algorithm = definition.create(config, context, new Rng(3), rebalanced);
      placeAlgorithm(algorithm);
      const data = new Rng(4);
      // step 1005 blends the EMA actor (RVDT) as well as the target critics
      for (const step of [0, 1, 1005]) {
        const batch = randomBatch(data, 6, 4);
        setBackend(cpu);
        const expected = reference.update(batch, step);
        setBackend(device);
        const metrics = deviceUpdate(device, algorithm, batch, step);
        await settleFiniteChecks(takeDeferredChecks());
        const logs = await readMetrics(metrics);
        assert.deepEqual(Object.keys(logs), Object.keys(expected), 'the same terms in the same order');
        for (const [name, value] of Object.entries(expected)) {
          assertRelativeClose(`${name} at step ${step}`, [logs[name] ?? NaN], [typeof value === 'number' ? value : value.now], CPU_TOLERANCE);
        }
      }
      setBackend(cpu);
      const want = await readModules(reference);
      setBackend(device);
      const got = await readModules(algorithm);
      for (const [name, values] of want) {
        const actual = got.get(name) ?? new Float32Array(values.length);
        if (name.endsWith('.attn.c_attn.bias')) {
          // the key bias (columns C..2C) has a zero gradient in exact arithmetic: softmax ignores a
          // constant added to a query's scores. Adam's normalized step turns the rounding noise of
          // either backend into moves of either sign, so only its size is compared: tiny on both
          const width = values.length / 3;
          const keys = (array: ArrayLike<number>): number[] => Array.from(array).slice(width, 2 * width);
          assert.ok([...keys(values), ...keys(actual)].every((v) => Math.abs(v) < 1e-5), `${name}: the key bias stays at rounding-noise level`);
          const others = (array: ArrayLike<number>): number[] => [...Array.from(array).slice(0, width), ...Array.from(array).slice(2 * width)];
          assertRelativeClose(`${name} (queries and values) after three steps`, others(actual), others(values), CPU_TOLERANCE);
        } else {
          assertRelativeClose(`${name} after three steps`, actual, values, CPU_TOLERANCE);
        }
      }
    });
  }
});
