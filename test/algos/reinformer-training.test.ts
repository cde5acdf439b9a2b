/**
 * Reinformer training: parameter names, the logged terms and how they combine, the warm-up, the
 * temperature update, right padding without an attention mask, exact resume from checkpointed
 * modules and optimizers, and the expectile head settling above the mean return.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Algorithm, PolicyContext } from '../../src/algos/algorithm.js';
import {
  reinformer, ReinformerNetwork, reinformerLosses, returnNormalizer, type ReinformerConfig, type ReinformerNetworkConfig,
} from '../../src/algos/reinformer.js';
import type { WindowBatch as SampledBatch } from '../../src/data/sampler.js';
import { Rng, tidy } from '../../src/engine/index.js';
import { loadModuleTensors, loadOptimizerTensors, moduleTensors, optimizerTensors } from '../../src/nn/checkpoint.js';
import type { Module } from '../../src/nn/module.js';
import { hostArray } from '../../src/engine/tensor.js';
import { metricsNow } from '../../src/algos/algorithm.js';

const S = 4;
const A = 2;
const K = 3;

function policyContext(): PolicyContext {
  return {
    obsDim: S, actionDim: A, stateMean: new Float32Array(S), stateStd: new Float32Array(S).fill(1),
    actionLow: [-1, -1], actionHigh: [1, 1], maxEpisodeSteps: 100,
  };
}

function smallConfig(overrides: Partial<ReinformerConfig> = {}): ReinformerConfig {
  return reinformer.configSchema.parse({ context: K, width: 16, layers: 2, heads: 2, maxTimestep: 64, batchSize: 4, ...overrides });
}

/** B windows, row 1 right-padded to `shortLength` real steps, as the Reinformer sampler pads short trajectories */
function randomBatch(B: number, rng: Rng, shortLength = 1): SampledBatch {
  const mask = new Float32Array(B * K).fill(1);
  for (let k = shortLength; k < K; k++) mask[K + k] = 0;
  const real = (slot: number): number => mask[slot] as number;
  return {
    batchSize: B, contextLength: K, obsDim: S, actionDim: A,
    states: Float32Array.from({ length: B * K * S }, (_, i) => real(Math.floor(i / S)) * rng.normal()),
    actions: Float32Array.from({ length: B * K * A }, (_, i) => real(Math.floor(i / A)) * Math.tanh(rng.normal())),
    returnsToGo: Float32Array.from({ length: B * K }, (_, i) => real(i) * (0.5 + rng.uniform())),
    timesteps: Int32Array.from({ length: B * K }, (_, i) => (i % K) + 5 * Math.floor(i / K)),
    mask,
    rewards: new Float32Array(B * K), terminated: new Float32Array(B * K),
    episodes: Int32Array.from({ length: B }, (_, b) => b), starts: new Int32Array(B),
  };
}

function snapshot(algorithm: Algorithm): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [moduleName, module] of Object.entries(algorithm.modules())) {
    for (const [name, p] of module.namedParameters()) out.set(`${moduleName}.${name}`, Float32Array.from(p.data));
  }
  return out;
}

describe('Reinformer training', () => {
  it('names its parameters as the PyTorch twin does (scripts/torch_reference.py)', () => {
    const config: ReinformerNetworkConfig = { stateDim: S, actionDim: A, context: K, width: 8, layers: 1, heads: 2, maxTimestep: 16, dropout: 0.1 };
    const names = new ReinformerNetwork(config, new Rng(0)).namedParameters().map(([n]) => n);
    assert.deepEqual(names, [
      'action_log_std',
      'transformer.embed_timestep.weight',
      'transformer.embed_return.weight', 'transformer.embed_return.bias',
      'transformer.embed_state.weight', 'transformer.embed_state.bias',
      'transformer.embed_action.weight', 'transformer.embed_action.bias',
      'transformer.embed_ln.weight', 'transformer.embed_ln.bias',
      'transformer.blocks.0.ln_1.weight', 'transformer.blocks.0.ln_1.bias',
      'transformer.blocks.0.attn.query.weight', 'transformer.blocks.0.attn.query.bias',
      'transformer.blocks.0.attn.key.weight', 'transformer.blocks.0.attn.key.bias',
      'transformer.blocks.0.attn.value.weight', 'transformer.blocks.0.attn.value.bias',
      'transformer.blocks.0.attn.c_proj.weight', 'transformer.blocks.0.attn.c_proj.bias',
      'transformer.blocks.0.ln_2.weight', 'transformer.blocks.0.ln_2.bias',
      'transformer.blocks.0.mlp.c_fc.weight', 'transformer.blocks.0.mlp.c_fc.bias',
      'transformer.blocks.0.mlp.c_proj.weight', 'transformer.blocks.0.mlp.c_proj.bias',
      'predict_return.weight', 'predict_return.bias',
      'predict_action_mean.weight', 'predict_action_mean.bias',
    ]);
  });

  it('has the reference defaults', () => {
    const config = reinformer.configSchema.parse({});
    assert.equal(reinformer.sampler, 'reinformer');
    assert.deepEqual(
      [config.context, config.width, config.layers, config.heads, config.maxTimestep, config.dropout, config.expectile],
      [5, 256, 4, 8, 4096, 0.1, 0.99],
    );
    assert.deepEqual([config.batchSize, config.steps, config.lr, config.weightDecay, config.warmupSteps, config.clipNorm], [128, 50_000, 1e-4, 1e-4, 5000, 0.25]);
    assert.deepEqual([config.initTemperature, config.temperatureLr, config.targetEntropy, config.lambMaxGradNorm], [0.1, 1e-4, null, 1.0]);
    const scale = (id: string): number => reinformer.returnScale(reinformer.configSchema.parse(reinformer.presets[id] ?? {}));
    assert.deepEqual(
      ['hopper-medium-replay-v2', 'halfcheetah-medium-v2', 'walker2d-medium-expert-v2', 'maze2d-large-v1', 'kitchen-mixed-v0', 'antmaze-large-diverse-v2', 'pen-human-v1'].map(scale),
      [1000, 5000, 1000, 100, 100, 1, 10000],
    );
    assert.equal(reinformer.presets['hopper-medium-v2']?.batchSize, 256);
    assert.equal(reinformer.presets['hopper-medium-replay-v2']?.batchSize, undefined, 'the reference misspells it, so it runs with 128');
    assert.equal(reinformer.presets['kitchen-complete-v0']?.batchSize, 16);
    const algorithm = reinformer.create(smallConfig(), policyContext(), new Rng(0));
    assert.deepEqual(algorithm.evaluationConditions(), [{ label: 'max-return' }]);
    assert.deepEqual(Object.keys(algorithm.policyModules()), ['model']);
  });

  it('reports every term, combined as L = L_R + NLL − λH, and warms the learning rate up', () => {
    const config = smallConfig();
    const algorithm = reinformer.create(config, policyContext(), new Rng(1));
    const rng = new Rng(2);
    const first = algorithm.update(randomBatch(4, rng), 0);
    for (const key of ['loss', 'return_loss', 'action_nll', 'entropy', 'action_loss', 'temperature', 'temperature_loss', 'grad_norm', 'lr']) {
      assert.ok(Number.isFinite(first[key]), `${key} is reported and finite`);
    }
    const v = (key: string): number => first[key] as number;
    assert.ok(Math.abs(v('loss') - (v('return_loss') + v('action_loss'))) <= 1e-5 * Math.abs(v('loss')));
    assert.ok(Math.abs(v('action_loss') - (v('action_nll') - v('temperature') * v('entropy'))) <= 1e-5 * Math.abs(v('action_loss')));
    // log σ starts at 0: entropy A·(1/2 + log(2π)/2); λ starts at 0.1; H̄* = −A
    assert.ok(Math.abs(v('entropy') - A * (0.5 + 0.5 * Math.log(2 * Math.PI))) < 1e-5);
    assert.ok(Math.abs(v('temperature') - 0.1) < 1e-7);
    assert.ok(Math.abs(v('temperature_loss') - 0.1 * (v('entropy') + A)) < 1e-6);
    assert.ok(Math.abs(v('lr') - config.lr / config.warmupSteps) < 1e-15, 'step 0 runs at lr / 5000');
    assert.ok(Math.abs((algorithm.update(randomBatch(4, rng), 4999).lr as number) - config.lr) < 1e-15, 'full lr after 5000 steps');
  });

  it('lowers λ while the entropy is above its target, by Adam steps of about temperatureLr', () => {
    const config = smallConfig({ temperatureLr: 1e-3 });
    const algorithm = reinformer.create(config, policyContext(), new Rng(3));
    const rng = new Rng(4);
    const temperatures: number[] = [];
    for (let step = 0; step < 5; step++) {
      const logged = algorithm.update(randomBatch(4, rng), step);
      assert.ok((logged.entropy as number) > -A);
      temperatures.push(logged.temperature as number);
    }
    for (let i = 1; i < temperatures.length; i++) {
      const logStep = Math.log(temperatures[i] as number) - Math.log(temperatures[i - 1] as number);
      assert.ok(logStep < 0 && Math.abs(logStep + 1e-3) < 1e-4, `log λ step ${logStep}`);
    }
  });

  it('needs no attention mask: padded slots change neither the losses nor the gradients', () => {
    const network: ReinformerNetworkConfig = { stateDim: S, actionDim: A, context: K, width: 16, layers: 2, heads: 2, maxTimestep: 64, dropout: 0 };
    const model = new ReinformerNetwork(network, new Rng(5));
    const batch = randomBatch(4, new Rng(6));
    const noisy = { ...batch, states: Float32Array.from(batch.states), actions: Float32Array.from(batch.actions), returnsToGo: Float32Array.from(batch.returnsToGo) };
    const noise = new Rng(7);
    for (let i = 0; i < 4 * K; i++) {
      if (batch.mask[i] === 1) continue;
      noisy.returnsToGo[i] = 10 * noise.normal();
      for (let d = 0; d < S; d++) noisy.states[i * S + d] = 10 * noise.normal();
      for (let d = 0; d < A; d++) noisy.actions[i * A + d] = noise.normal();
    }
    const run = (b: SampledBatch): { terms: number[]; grads: Float32Array[] } => {
      model.zeroGrad();
      const terms = tidy(() => {
        const losses = reinformerLosses(model, b, { expectile: 0.99, temperature: 0.1 });
        losses.total.backward();
        return [losses.returnLoss.item(), losses.actionNll.item(), losses.entropy.item()];
      });
      return { terms, grads: model.parameters().map((p) => Float32Array.from(hostArray(p.gradOrZeros()))) };
    };
    const clean = run(batch);
    const padded = run(noisy);
    assert.deepEqual(padded.terms, clean.terms);
    padded.grads.forEach((g, i) => {
      const c = clean.grads[i] as Float32Array;
      const scale = Math.max(1e-12, ...[...c].map(Math.abs));
      for (let j = 0; j < g.length; j++) assert.ok(Math.abs((g[j] as number) - (c[j] as number)) <= 1e-6 * scale, `gradient ${i}[${j}]`);
    });
  });

  it('measures the return residual in units of the mean |G| over real positions', () => {
    assert.equal(returnNormalizer(Float32Array.of(2, -4, 100), Float32Array.of(1, 1, 0)), 3);
    assert.equal(returnNormalizer(Float32Array.of(0, 0, 5), Float32Array.of(1, 1, 0)), 1, 'all-zero returns fall back to 1');
  });

  it('resumes exactly from its modules and optimizers (network, LAMB, temperature and its Adam)', () => {
    const config = smallConfig({ dropout: 0, warmupSteps: 10 });
    const rng = new Rng(8);
    const batches = Array.from({ length: 5 }, () => randomBatch(4, rng));
    const original = reinformer.create(config, policyContext(), new Rng(9));
    for (let step = 0; step < 3; step++) original.update(batches[step] as SampledBatch, step);

    const resumed = reinformer.create(config, policyContext(), new Rng(10));
    for (const [name, module] of Object.entries(original.modules())) {
      const target = resumed.modules()[name];
      assert.ok(target !== undefined, `module ${name}`);
      loadModuleTensors(target, moduleTensors(module), name);
    }
    assert.deepEqual(Object.keys(original.optimizers()).sort(), ['optimizer', 'temperature_optimizer']);
    for (const [name, { optimizer, names }] of Object.entries(original.optimizers())) {
      const target = resumed.optimizers()[name as keyof ReturnType<Algorithm['optimizers']>];
      assert.ok(target !== undefined, `optimizer ${name}`);
      loadOptimizerTensors(target.optimizer, target.names, optimizerTensors(optimizer, names), name);
    }
    assert.equal(original.extraState, undefined, 'the temperature is a module, so nothing lives outside modules and optimizers');
    for (let step = 3; step < 5; step++) {
      assert.deepEqual(resumed.update(batches[step] as SampledBatch, step), original.update(batches[step] as SampledBatch, step));
    }
    assert.deepEqual(snapshot(resumed), snapshot(original));
  });

  it('keeps log σ at 0 under LAMB (reference); logStdOptimizer adam lets the likelihood and entropy move it', () => {
    const rng = new Rng(12);
    const batches = Array.from({ length: 10 }, () => randomBatch(4, rng));
    const logStdNorm = (algorithm: Algorithm): number => {
      const logStd = (algorithm.modules().model as ReinformerNetwork).action_log_std.data;
      return Math.hypot(...Array.from(logStd));
    };
    // a warm-up as the reference has (step 0 at 1% of lr), at 10x its lr so that moves are visible
    const run = (overrides: Partial<ReinformerConfig>) => {
      const config = smallConfig({ dropout: 0, lr: 1e-3, warmupSteps: 100, ...overrides });
      const algorithm = reinformer.create(config, policyContext(), new Rng(13));
      const norms: number[] = [];
      const entropies: number[] = [];
      batches.forEach((batch, step) => {
        entropies.push(metricsNow(algorithm.update(batch, step)).entropy ?? NaN);
        norms.push(logStdNorm(algorithm));
      });
      return { algorithm, norms, entropies, config };
    };

    const lamb = run({});
    assert.equal(lamb.config.logStdOptimizer, 'lamb', 'the reference is the default');
    // LAMB's trust ratio ‖w‖/‖u‖ is 1 only while ‖w‖ = 0: the first step moves log σ by lr·(1/100)
    // per entry, every later step changes its norm by at most a factor (1 + lr_t)
    const first = lamb.norms[0] ?? NaN;
    assert.ok(first > 0 && first < 1.5e-5 * Math.sqrt(A), `first LAMB step ${first}`);
    let bound = first;
    for (let step = 1; step < batches.length; step++) {
      bound *= 1 + 1e-3 * Math.min((step + 1) / 100, 1);
      assert.ok((lamb.norms[step] ?? NaN) <= bound * (1 + 1e-6), `step ${step}: ‖log σ‖ ${lamb.norms[step]} above ${bound}`);
    }
    assert.ok((lamb.norms.at(-1) ?? NaN) < 2e-5, 'σ stays 1 to four decimals');
    assert.ok(Math.abs((lamb.entropies.at(-1) ?? NaN) - (lamb.entropies[0] ?? NaN)) < 1e-4, 'the logged entropy does not move');

    const adam = run({ logStdOptimizer: 'adam' });
    // Adam's first steps move each entry by about lr_t: Σ_t 1e-3 (t + 1)/100 = 5.5e-4 over 10 steps
    const moved = adam.norms.at(-1) ?? NaN;
    assert.ok(moved > 3e-4 * Math.sqrt(A), `‖log σ‖ after 10 Adam steps: ${moved}`);
    assert.ok(moved > 20 * (lamb.norms.at(-1) ?? NaN), 'far beyond what LAMB allows');
    // entropy = Σ_d (½ log 2πe + log σ_d): it moves by the sum of log σ's moves
    assert.ok(Math.abs((adam.entropies.at(-1) ?? NaN) - (adam.entropies[0] ?? NaN)) > 5e-4, 'the logged entropy moves with σ');
    const optimizers = adam.algorithm.optimizers();
    assert.deepEqual(Object.keys(optimizers), ['optimizer', 'log_std_optimizer', 'temperature_optimizer']);
    assert.deepEqual(optimizers.log_std_optimizer?.names, ['action_log_std']);
    assert.ok(!(optimizers.optimizer?.names ?? []).includes('action_log_std'), 'LAMB no longer steps log σ');
    assert.equal(adam.algorithm.optimizers().optimizer?.optimizer.params.length, (adam.algorithm.modules().model?.parameters().length ?? 0) - 1);
    // the option's learning rate
    const slow = run({ logStdOptimizer: 'adam', logStdLr: 1e-5 });
    assert.ok((slow.norms.at(-1) ?? NaN) < moved / 50, 'logStdLr sets log σ\'s Adam rate');
  });

  it('resumes exactly with logStdOptimizer adam (log σ\'s Adam is checkpointed too)', () => {
    const config = smallConfig({ dropout: 0, warmupSteps: 10, logStdOptimizer: 'adam' });
    const rng = new Rng(14);
    const batches = Array.from({ length: 5 }, () => randomBatch(4, rng));
    const original = reinformer.create(config, policyContext(), new Rng(15));
    for (let step = 0; step < 3; step++) original.update(batches[step] as SampledBatch, step);
    const resumed = reinformer.create(config, policyContext(), new Rng(16));
    for (const [name, module] of Object.entries(original.modules())) loadModuleTensors(resumed.modules()[name] as Module, moduleTensors(module), name);
    for (const [name, { optimizer, names }] of Object.entries(original.optimizers())) {
      const target = resumed.optimizers()[name];
      assert.ok(target !== undefined, `optimizer ${name}`);
      loadOptimizerTensors(target.optimizer, target.names, optimizerTensors(optimizer, names), name);
    }
    for (let step = 3; step < 5; step++) {
      assert.deepEqual(resumed.update(batches[step] as SampledBatch, step), original.update(batches[step] as SampledBatch, step));
    }
    assert.deepEqual(snapshot(resumed), snapshot(original));
  });

  it('pushes the return head above the mean, towards the upper expectile of the returns', () => {
    // four identical one-step windows with different returns: the state token sees the same input in
    // every row, so the best prediction is the m-expectile of the returns, above their mean
    const returns = [0.2, 0.4, 0.6, 1.0];
    const expectile = 0.9;
    const config = smallConfig({ context: 1, width: 8, layers: 1, heads: 1, dropout: 0, expectile, lr: 0.01, warmupSteps: 0, batchSize: 4 });
    const context = policyContext();
    const algorithm = reinformer.create(config, context, new Rng(11));
    const B = returns.length;
    const batch: SampledBatch = {
      batchSize: B, contextLength: 1, obsDim: S, actionDim: A,
      states: new Float32Array(B * S).fill(0.5), actions: new Float32Array(B * A), returnsToGo: Float32Array.from(returns),
      timesteps: new Int32Array(B), mask: new Float32Array(B).fill(1),
      rewards: new Float32Array(B), terminated: new Float32Array(B), episodes: Int32Array.from({ length: B }, (_, b) => b), starts: new Int32Array(B),
    };
    for (let step = 0; step < 400; step++) algorithm.update(batch, step);
    // the m-expectile e solves m Σ_{G>e} (G − e) = (1 − m) Σ_{G<e} (e − G); bisect for it
    let low = 0;
    let high = 1;
    for (let i = 0; i < 60; i++) {
      const e = (low + high) / 2;
      const balance = returns.reduce((acc, g) => acc + (g > e ? expectile * (g - e) : -(1 - expectile) * (e - g)), 0);
      if (balance > 0) low = e;
      else high = e;
    }
    const network = algorithm.modules().model as ReinformerNetwork;
    const predicted = tidy(() => network.forward(batch).returns.data[0] as number);
    const mean = returns.reduce((a, b) => a + b, 0) / B;
    assert.ok(Math.abs(predicted - low) < 0.03, `prediction ${predicted} vs ${expectile}-expectile ${low} (mean ${mean})`);
  });
});
