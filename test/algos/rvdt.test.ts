/**
 * RDT and RVDT (src/algos/rdt.ts, rvdt.ts): Proposition 1's weighted losses in both normalizations
 * (hand-computed), the Gaussian head's gradients, the Q-term's path through QT's critic (and the
 * reparameterized sample), the `qt` column reproducing QT's update, and every ablation column
 * training a few steps on a tiny dataset through prepare → sampler → update, then acting.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnyAlgorithmDefinition, PolicyContext } from '../../src/algos/algorithm.js';
import { QtAlgorithm, QtConfigSchema } from '../../src/algos/qt.js';
import { qRegularizer, TwinCritic, type QNumerator } from '../../src/algos/parts/critic.js';
import { GaussianQtActor } from '../../src/algos/parts/actors.js';
import { actionLossWeighting, reparameterizedActions, weightedGaussianNll, weightedMse } from '../../src/algos/parts/rebalancing.js';
import { RdtAlgorithm, RdtConfigSchema, rdtAlgorithm } from '../../src/algos/rdt.js';
import { RvdtAlgorithm, RvdtConfigSchema, rvdtAlgorithm, type RvdtConfig } from '../../src/algos/rvdt.js';
import { returnsToGo, stateStatistics } from '../../src/data/preprocess.js';
import { samplingRulesFor, WindowSampler, type WindowBatch } from '../../src/data/sampler.js';
import { segmentEpisodes, TrajectoryStore } from '../../src/data/store.js';
import { maskedRowSumMean, reshape, Rng, Tensor, tidy, withDefaultDType } from '../../src/engine/index.js';
import { syntheticArrays } from '../data/helpers.js';
import { checkGradients } from '../helpers/gradcheck.js';
import { hostArray } from '../../src/engine/tensor.js';
import { metricsNow } from '../../src/algos/algorithm.js';
import type { Parameter } from '../../src/engine/index.js';

const S = 3;
const A = 2;
const TINY = { context: 4, width: 16, layers: 1, heads: 2, mlpWidth: 32, maxTimestep: 64, batchSize: 6, dropout: 0, targetReturns: [2, 1], returnScale: 10 };
const TINY_CRITIC = { criticWidth: 16, candidates: 4 };

function tinyContext(): PolicyContext {
  return {
    obsDim: S, actionDim: A, stateMean: new Float32Array(S), stateStd: new Float32Array(S).fill(1),
    actionLow: new Array<number>(A).fill(-1), actionHigh: new Array<number>(A).fill(1), maxEpisodeSteps: 50,
  };
}

/** eight episodes of 6..13 steps whose return grows with the index; the top quarter (episodes 6, 7) is D_E */
function tinyStore(): TrajectoryStore {
  const lengths = [6, 7, 8, 9, 10, 11, 12, 13];
  const arrays = syntheticArrays(lengths, { obsDim: S, actionDim: A });
  let row = 0;
  lengths.forEach((length, e) => {
    for (let t = 0; t < length; t++) arrays.rewards[row++] = e / length + 0.01 * t;
  });
  return TrajectoryStore.fromArrays(arrays, segmentEpisodes(arrays.terminals, arrays.timeouts));
}

/** what the trainer does: prepare, a sampler with the prepared episode weights, create */
function trainingSetup(definition: AnyAlgorithmDefinition, overrides: Record<string, unknown>, seed: number) {
  const store = tinyStore();
  const config = definition.configSchema.parse({ ...TINY, expertFraction: 0.25, ...overrides });
  const preparation = definition.prepare?.(store, config);
  assert.ok(preparation !== undefined, `${definition.name} prepares its dataset`);
  const sampler = new WindowSampler(store, {
    ...samplingRulesFor(definition.sampler), batchSize: config.batchSize, contextLength: config.context,
    returnsToGo: returnsToGo(store, { scale: definition.returnScale(config) }), stateStatistics: stateStatistics(store),
    ...(preparation.samplerEpisodeWeights === undefined ? {} : { episodeWeights: preparation.samplerEpisodeWeights }),
  }, new Rng(seed + 1));
  const algorithm = definition.create(config, tinyContext(), new Rng(seed), preparation);
  return { store, config, preparation, sampler, algorithm };
}

/** two windows of K = 2, A = 1: window 0 is expert and full; window 1 is left-padded by one */
const HAND = {
  mask: Float32Array.of(1, 1, 0, 1),
  expert: Float32Array.of(1, 1, 0, 0),
  // errors 1, 2, (padding), 3 against zero targets: squared 1, 4, 9
  predicted: [1, 2, 7, 3],
};

describe('explicit rebalancing: Proposition 1 in both normalizations', () => {
  const weighting = (rebalance: 'none' | 'kl' | 'dup', klNormalization: 'pooled' | 'split') =>
    actionLossWeighting(HAND.mask, HAND.expert, { rebalance, alpha: 2, klNormalization });
  const mse = (rebalance: 'none' | 'kl' | 'dup', klNormalization: 'pooled' | 'split'): number => tidy(() =>
    weightedMse(Tensor.from(HAND.predicted, [4, 1]), Tensor.zeros([4, 1]), weighting(rebalance, klNormalization)).item());

  it('weights the MSE as hand-computed: pooled Σm(1+αe)ℓ/Σm, split mean_D + α·mean_E, none/dup the plain mean', () => {
    // pooled: (3·1 + 3·4 + 1·9) / 3 = 8; split: 14/3 + 2 · (1 + 4)/2 = 29/3; plain: 14/3
    assert.ok(Math.abs(mse('kl', 'pooled') - 8) < 1e-6);
    assert.ok(Math.abs(mse('kl', 'split') - 29 / 3) < 1e-6);
    assert.ok(Math.abs(mse('none', 'pooled') - 14 / 3) < 1e-6);
    assert.ok(Math.abs(mse('dup', 'split') - 14 / 3) < 1e-6);
    // a batch without expert positions: split has no expert term, pooled no up-weighting
    const noExpert = actionLossWeighting(HAND.mask, new Float32Array(4), { rebalance: 'kl', alpha: 2, klNormalization: 'split' });
    assert.equal(noExpert.length, 1);
  });

  it('with a fixed σ the weighted Gaussian NLL is (A/2σ²)·weighted MSE + the weight mass · constant', () => {
    const logSigma = Math.log(0.5);
    const constant = logSigma + 0.5 * Math.log(2 * Math.PI);
    const nll = (klNormalization: 'pooled' | 'split'): number => tidy(() => weightedGaussianNll(
      Tensor.zeros([4, 1]), Tensor.from(HAND.predicted, [4, 1]), Tensor.from([logSigma], [1]), weighting('kl', klNormalization),
    ).item());
    // pooled weight mass (3 + 3 + 1)/3; split 1 + α·1
    assert.ok(Math.abs(nll('pooled') - (8 / (2 * 0.25) + (7 / 3) * constant)) < 1e-5);
    assert.ok(Math.abs(nll('split') - ((29 / 3) / (2 * 0.25) + 3 * constant)) < 1e-5);
  });

  it('the unweighted MSE is QT\'s action MSE exactly (same mean over real positions and action dimensions)', () => {
    const rng = new Rng(4);
    const predicted = Array.from({ length: 12 }, () => rng.normal());
    const target = Array.from({ length: 12 }, () => rng.normal());
    const mask = Float32Array.of(0, 1, 1, 1);
    tidy(() => {
      const ours = weightedMse(Tensor.from(predicted, [4, 3]), Tensor.from(target, [4, 3]), actionLossWeighting(mask, new Float32Array(4), { rebalance: 'none', alpha: 1, klNormalization: 'pooled' }));
      let squared = 0;
      for (let i = 3; i < 12; i++) squared += ((predicted[i] as number) - (target[i] as number)) ** 2;
      assert.ok(Math.abs(ours.item() - squared / 9) < 1e-6);
    });
  });
});

describe('policy heads: gradients', () => {
  it('the weighted Gaussian NLL differentiates in the means and log σ (finite differences, float64, both forms)', () => {
    for (const klNormalization of ['pooled', 'split'] as const) {
      const weighting = actionLossWeighting(Float32Array.of(1, 1, 0, 1, 1), Float32Array.of(1, 0, 0, 1, 0), { rebalance: 'kl', alpha: 1.5, klNormalization });
      checkGradients(([actions, means, logStd]) => weightedGaussianNll(actions as Tensor, means as Tensor, logStd as Tensor, weighting), [
        { shape: [5, A], requiresGrad: false },
        { shape: [5, A] },
        { shape: [A], init: (rng) => 0.3 * rng.normal() },
      ], { tolerance: 1e-6 });
    }
  });

  it('a reparameterized sample carries the critic\'s gradient to the mean and to log σ (finite differences, float64)', () => {
    withDefaultDType('float64', () => {
      const critic = new TwinCritic(S, A, 8, new Rng(2));
      const rng = new Rng(3);
      const states = Tensor.from(Array.from({ length: 5 * S }, () => rng.normal()), [5, S]);
      const noise = Tensor.from(Array.from({ length: 5 * A }, () => rng.normal()), [5, A]);
      const weights = Float32Array.of(1, 1, 0, 1, 1);
      checkGradients(([means, logStd]) => maskedRowSumMean(critic.forward(states, reparameterizedActions(means as Tensor, logStd as Tensor, noise)).q1, weights), [
        { shape: [5, A], init: (r) => Math.tanh(r.normal()) },
        { shape: [A], init: (r) => -1 + 0.3 * r.normal() },
      ], { tolerance: 1e-6 });
    });
  });

  it('the stochastic head adds one learned log σ per action dimension (0 at start); the deterministic head is QT\'s', () => {
    const rdt = new RdtAlgorithm(RdtConfigSchema.parse({ ...TINY, variant: 'rdt' }), tinyContext(), new Rng(1));
    const dt = new RdtAlgorithm(RdtConfigSchema.parse({ ...TINY, variant: 'dt' }), tinyContext(), new Rng(1));
    assert.ok(rdt.actor instanceof GaussianQtActor);
    assert.ok(!(dt.actor instanceof GaussianQtActor));
    const names = (algorithm: RdtAlgorithm): string[] => algorithm.actor.namedParameters().map(([n]) => n);
    assert.deepEqual(names(rdt).filter((n) => !names(dt).includes(n)), ['action_log_std']);
    assert.deepEqual(Array.from((rdt.actor as GaussianQtActor).action_log_std.data), [0, 0]);
    assert.equal(rdt.optimizer.params.length, dt.optimizer.params.length + 1);
  });
});

/** RVDT with its protected actor objective exposed, to inspect one backward pass */
class InspectableRvdt extends RvdtAlgorithm {
  objective(batch: WindowBatch, numerator: QNumerator) {
    return this.actorObjective(batch, numerator);
  }
}

function gradientMagnitude(parameters: readonly Parameter[]): number {
  let total = 0;
  for (const p of parameters) for (const g of Array.from(hostArray(p.gradOrZeros()))) total += Math.abs(g);
  return total;
}

describe('RVDT: implicit rebalancing through QT\'s critic', () => {
  function objectiveGradients(overrides: Partial<RvdtConfig>) {
    const { config, preparation, sampler } = trainingSetup(rvdtAlgorithm, { ...TINY_CRITIC, ...overrides }, 5);
    const rvdt = new InspectableRvdt(config as RvdtConfig, tinyContext(), new Rng(5), preparation);
    const batch = sampler.sample();
    rvdt.actor.zeroGrad();
    rvdt.critic.zeroGrad();
    const terms = tidy(() => {
      const objective = rvdt.objective(batch, 'q1');
      objective.total.backward();
      return objective.terms;
    });
    return { rvdt, batch, terms, logStdGradient: rvdt.actor instanceof GaussianQtActor ? gradientMagnitude([rvdt.actor.action_log_std]) : 0 };
  }

  it('the Q-term is QT\'s qRegularizer on the online critic: same value, gradients reach actor and critic', () => {
    // no BC: every actor gradient comes through the critic
    const { rvdt, batch, terms } = objectiveGradients({ variant: 'rvdt-determ', bcWeight: 0, eta: 1 });
    assert.ok(gradientMagnitude(rvdt.actor.parameters()) > 0, 'the actor moves through the Q-term');
    assert.ok(gradientMagnitude(rvdt.critic.parameters()) > 0, 'the backward pass went through QT\'s TwinCritic');
    const { batchSize: B, contextLength: K } = batch;
    const expected = tidy(() => {
      const means = reshape(rvdt.actor.predict(batch).actions, [B * K, A]);
      return qRegularizer(rvdt.critic, Tensor.borrow(batch.states, [B * K, S]), means, batch.mask, 'q1').loss.item();
    });
    const qLoss = metricsNow(terms).q_loss ?? NaN;
    assert.ok(Math.abs(qLoss - expected) < 1e-6, `q_loss ${qLoss} vs ${expected}`);
    const silent = objectiveGradients({ variant: 'rvdt-determ', bcWeight: 0, eta: 0 });
    assert.equal(gradientMagnitude(silent.rvdt.actor.parameters()), 0, 'η = 0 and no BC: nothing reaches the actor');
  });

  it('the stochastic head\'s Q-term reaches log σ through a reparameterized sample, and not when taken at the mean', () => {
    assert.ok(objectiveGradients({ variant: 'rvdt', bcWeight: 0, eta: 1 }).logStdGradient > 0);
    assert.equal(objectiveGradients({ variant: 'rvdt', bcWeight: 0, eta: 1, qAction: 'mean' }).logStdGradient, 0);
    // with BC on, the NLL trains log σ too
    assert.ok(objectiveGradients({ variant: 'rvdt', eta: 0 }).logStdGradient > 0);
  });

  it('the qt column reproduces QtAlgorithm\'s updates exactly (same seed, same batches)', () => {
    const fields = { ...TINY, ...TINY_CRITIC };
    const qt = new QtAlgorithm(QtConfigSchema.parse(fields), tinyContext(), new Rng(9));
    const { algorithm, sampler } = trainingSetup(rvdtAlgorithm, { ...TINY_CRITIC, variant: 'qt' }, 9);
    for (let step = 0; step < 3; step++) {
      const batch = sampler.sample();
      const expected = qt.update(batch, step);
      const got = algorithm.update(batch, step);
      for (const [name, value] of Object.entries(expected)) assert.equal(got[name], value, `${name} at step ${step}`);
    }
    const ours = (algorithm as RvdtAlgorithm).actor.parameters();
    qt.actor.parameters().forEach((p, i) => assert.deepEqual(Array.from(ours[i]?.data ?? []), Array.from(p.data), p.name));
  });

  it('builds its critic at the actor\'s width unless criticWidth is set, keeping the variant\'s name', () => {
    const unset = RvdtConfigSchema.parse({ ...TINY, variant: 'vdt' });
    assert.deepEqual([unset.criticWidth, unset.variant], [TINY.width, 'vdt']);
    assert.equal(RvdtConfigSchema.parse({ ...TINY, ...TINY_CRITIC, width: 8 }).criticWidth, TINY_CRITIC.criticWidth);
  });
});

describe('ablation columns', () => {
  const RDT_LOGS = ['loss', 'action_loss', 'state_loss', 'action_mse', 'expert_share', 'grad_norm', 'lr'];
  const RVDT_LOGS = [
    'critic_loss', 'actor_loss', 'bc_loss', 'action_loss', 'state_loss', 'q_loss', 'q_mean', 'action_mse', 'expert_share',
    'target_q_mean', 'critic_grad_norm', 'actor_grad_norm', 'lr_actor', 'lr_critic',
  ];
  const columns: Array<[AnyAlgorithmDefinition, string, boolean]> = [
    [rdtAlgorithm, 'qt-bc', false], [rdtAlgorithm, 'dt-dup', true], [rdtAlgorithm, 'rdt', true],
    [rvdtAlgorithm, 'qt', false], [rvdtAlgorithm, 'vdt', true], [rvdtAlgorithm, 'rvdt-dup', true],
    [rvdtAlgorithm, 'rvdt-determ', false], [rvdtAlgorithm, 'rvdt', true],
  ];

  for (const [definition, variant, stochastic] of columns) {
    it(`${variant} (--algo ${definition.name}) trains three steps with finite, named losses and acts`, () => {
      const { algorithm, sampler } = trainingSetup(definition, { variant, ...(definition === rvdtAlgorithm ? TINY_CRITIC : {}) }, 3);
      let scalars: Record<string, number> = {};
      let shares = 0;
      for (let step = 0; step < 3; step++) {
        scalars = metricsNow(algorithm.update(sampler.sample(), step));
        shares += scalars.expert_share as number;
        for (const [name, value] of Object.entries(scalars)) assert.ok(Number.isFinite(value), `${variant}: ${name} = ${value}`);
      }
      const expected = (definition === rdtAlgorithm ? RDT_LOGS : RVDT_LOGS).slice();
      if (stochastic) expected.splice(expected.indexOf('action_mse') + 1, 0, 'log_std');
      assert.deepEqual(Object.keys(scalars), expected);
      assert.ok(shares > 0, `${variant}: some sampled positions come from D_E`);

      algorithm.setTraining(false);
      const conditions = algorithm.evaluationConditions();
      assert.equal(conditions.length, definition === rdtAlgorithm ? 2 : 1);
      const policy = algorithm.createPolicy(2, conditions[0]!, new Rng(1));
      const actions = new Float32Array(2 * A);
      const observations = Float64Array.from({ length: 2 * S }, (_, i) => i / 5);
      policy.beginEpisode(0, 0, 0);
      policy.beginEpisode(1, 0, 1);
      for (let t = 0; t < 2; t++) {
        policy.act(observations, Uint8Array.of(1, 1), actions);
        policy.observeRewards?.(Float64Array.of(0.5, 0.5), Uint8Array.of(1, 1));
      }
      assert.ok(actions.every((a) => Number.isFinite(a) && a >= -1 && a <= 1));
    });
  }

  it('dup draws expert windows 1 + α times as often; kl leaves the draws as they are', () => {
    const share = (variant: string): number => {
      const { sampler, preparation } = trainingSetup(rdtAlgorithm, { variant, alpha: 3, batchSize: 200 }, 4);
      let expert = 0;
      for (const episode of sampler.sample().episodes) expert += preparation.expertEpisodes?.[episode] ?? 0;
      return expert / 200;
    };
    // D_E = episodes 6, 7: 25 of 76 transitions; dup with α = 3 draws 100 of 151
    assert.ok(Math.abs(share('rdt') - 25 / 76) < 0.1);
    assert.ok(Math.abs(share('dt-dup') - 100 / 151) < 0.1);
  });

  it('acting needs no preparation (policy files), training refuses to run without the expert subset', () => {
    const config = RdtConfigSchema.parse({ ...TINY });
    const algorithm = rdtAlgorithm.create(config, tinyContext(), new Rng(1));
    assert.doesNotThrow(() => algorithm.createPolicy(1, algorithm.evaluationConditions()[0]!, new Rng(1)));
    const { sampler } = trainingSetup(rdtAlgorithm, {}, 1);
    assert.throws(() => algorithm.update(sampler.sample(), 0), /needs the expert subset/);
    const rvdt = rvdtAlgorithm.create(RvdtConfigSchema.parse({ ...TINY, ...TINY_CRITIC }), tinyContext(), new Rng(1));
    assert.throws(() => rvdt.update(sampler.sample(), 0), /needs the expert subset/);
    assert.deepEqual(Object.keys(rvdt.policyModules()), ['actor', 'critic_target']);
    assert.deepEqual(Object.keys(algorithm.policyModules()), ['actor']);
  });
});
