/**
 * Reinformer's PyTorch fixture (reinformer_step.safetensors from scripts/make_torch_fixtures.py),
 * as test/algos/reinformer.test.ts checks it on the CPU and test/engine/webgpu-reinformer.test.ts
 * on the device: its settings, its batch and the training algorithm at its weights.
 */
import assert from 'node:assert/strict';
import type { PolicyContext } from '../../src/algos/algorithm.js';
import { reinformer, type ReinformerNetworkConfig } from '../../src/algos/reinformer.js';
import type { WindowBatch } from '../../src/data/sampler.js';
import { Rng } from '../../src/engine/index.js';
import { loadModuleTensors } from '../../src/nn/checkpoint.js';
import { fixtureInputs, openTorchFixture } from './fixtures.js';

export function openReinformerFixture() {
  const fixture = openTorchFixture('reinformer_step.safetensors');
  const { tensor, prefixed, path } = fixture;
  const network = JSON.parse(fixture.metadata.config ?? '{}') as ReinformerNetworkConfig;
  const expectile = Number(fixture.metadata.expectile);
  const clipNorm = Number(fixture.metadata.clip_grad_norm);
  const lamb = JSON.parse(fixture.metadata.optimizer ?? '{}') as { lr: number; weight_decay: number; max_grad_norm: number };
  const temperatureAdam = JSON.parse(fixture.metadata.temperature_optimizer ?? '{}') as { lr: number };
  const B = Number(fixture.metadata.batch_size);
  const { context: K, stateDim: S, actionDim: A } = network;
  const initialLogTemperature = tensor('temperature.log_temperature').data[0] as number;

  /** the fixture's windows, fresh arrays on each call */
  const batch = (): WindowBatch => ({
    batchSize: B, contextLength: K, obsDim: S, actionDim: A,
    ...fixtureInputs(tensor),
    rewards: new Float32Array(B * K), terminated: new Float32Array(B * K),
    episodes: Int32Array.from({ length: B }, (_, b) => b), starts: new Int32Array(B),
  });

  /** the training algorithm at the fixture's weights and temperature, in training mode */
  function algorithm() {
    const config = reinformer.configSchema.parse({
      context: K, width: network.width, layers: network.layers, heads: network.heads, maxTimestep: network.maxTimestep,
      dropout: network.dropout, expectile, clipNorm, lr: lamb.lr, weightDecay: lamb.weight_decay,
      lambMaxGradNorm: lamb.max_grad_norm, temperatureLr: temperatureAdam.lr, initTemperature: Math.exp(initialLogTemperature),
      // the fixture's single step runs at the full learning rate
      warmupSteps: 0,
    });
    const context: PolicyContext = {
      obsDim: S, actionDim: A, stateMean: new Float32Array(S), stateStd: new Float32Array(S).fill(1),
      actionLow: new Array<number>(A).fill(-1), actionHigh: new Array<number>(A).fill(1), maxEpisodeSteps: 1000,
    };
    const created = reinformer.create(config, context, new Rng(0));
    const { model, temperature } = created.modules();
    assert.ok(model !== undefined && temperature !== undefined);
    loadModuleTensors(model, prefixed('param.'), path);
    loadModuleTensors(temperature, prefixed('temperature.'), path);
    created.setTraining(true);
    return { algorithm: created, model, temperature };
  }

  return { tensor, prefixed, path, network, expectile, lamb, B, K, S, A, initialLogTemperature, batch, algorithm };
}
