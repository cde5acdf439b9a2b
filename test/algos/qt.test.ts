/**
 * QT (src/algos/qt.ts): n-step targets, the critic-to-actor gradient path, the update order with
 * its EMA/Polyak schedule, optimizers and cosine, the 50-candidate inference, presets, and a short
 * fit. Tiny widths throughout so the suite stays fast.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyContext } from '../../src/algos/algorithm.js';
import { AdamW, Adam } from '../../src/nn/optim.js';
import { QT_PRESETS, QtAlgorithm, QtConfigSchema, qtAlgorithm, type QtConfig } from '../../src/algos/qt.js';
import { nextStateTargets, QtActor } from '../../src/algos/parts/actors.js';
import { candidateKind, candidateReturns, CandidatePolicy as QtPolicy, chooseCandidate } from '../../src/algos/parts/candidate-acting.js';
import { bootstrapIndices, nStepParts, nStepTargets, qRegularizer, softUpdate, TwinCritic } from '../../src/algos/parts/critic.js';
import type { DecisionTransformerConfig } from '../../src/algos/dt.js';
import type { WindowBatch } from '../../src/data/sampler.js';
import type { TransformerInput } from '../../src/nn/transformer.js';
import { reshape, Rng, Tensor, tidy, withDefaultDType } from '../../src/engine/index.js';
import { hostArray } from '../../src/engine/tensor.js';
import { metricsNow } from '../../src/algos/algorithm.js';

const S = 3;
const A = 2;

function tinyContext(): PolicyContext {
  return {
    obsDim: S, actionDim: A, stateMean: new Float32Array(S), stateStd: new Float32Array(S).fill(1),
    actionLow: new Array<number>(A).fill(-1), actionHigh: new Array<number>(A).fill(1), maxEpisodeSteps: 50,
  };
}

function tinyConfig(overrides: Partial<QtConfig> = {}): QtConfig {
  return QtConfigSchema.parse({
    context: 4, width: 16, layers: 1, heads: 2, mlpWidth: 32, maxTimestep: 64, criticWidth: 16, batchSize: 6, ...overrides,
  });
}

/** Windows whose states follow simple dynamics and whose actions and rewards follow the states, so there is something to learn; window 0 is left-padded. */
function syntheticBatch(rng: Rng, batchSize: number, K: number): WindowBatch {
  // a linear rotation plus a little noise: the next state is predictable from the current one
  const states = new Float32Array(batchSize * K * S);
  for (let b = 0; b < batchSize; b++) {
    for (let d = 0; d < S; d++) states[b * K * S + d] = rng.normal();
    for (let t = 1; t < K; t++) {
      const previous = (b * K + t - 1) * S;
      const row = previous + S;
      states[row] = 0.9 * (states[previous + 1] as number) + 0.1 * rng.normal();
      states[row + 1] = -0.9 * (states[previous] as number) + 0.1 * rng.normal();
      states[row + 2] = 0.8 * (states[previous + 2] as number) + 0.1 * rng.normal();
    }
  }
  const actions = new Float32Array(batchSize * K * A);
  const rewards = new Float32Array(batchSize * K);
  for (let row = 0; row < batchSize * K; row++) {
    const s = states.subarray(row * S, (row + 1) * S);
    actions[row * A] = Math.tanh((s[0] as number) - 0.5 * (s[1] as number));
    actions[row * A + 1] = Math.tanh(0.8 * (s[2] as number));
    rewards[row] = (s[0] as number) + (actions[row * A] as number);
  }
  const mask = new Float32Array(batchSize * K).fill(1);
  mask[0] = 0;
  states.fill(0, 0, S);
  actions.fill(0, 0, A);
  rewards[0] = 0;
  return {
    batchSize, contextLength: K, obsDim: S, actionDim: A, states, actions, rewards,
    returnsToGo: Float32Array.from({ length: batchSize * K }, () => rng.uniform()),
    mask, terminated: new Float32Array(batchSize * K),
    timesteps: Int32Array.from({ length: batchSize * K }, (_, i) => i % K),
    episodes: Int32Array.from({ length: batchSize }, (_, b) => b), starts: new Int32Array(batchSize),
  };
}

const snapshot = (module: { parameters(): Array<{ data: ArrayLike<number> }> }): Float64Array[] =>
  module.parameters().map((p) => Float64Array.from(p.data));

describe('QT n-step targets', () => {
  it('match a hand-computed example: last reward skipped, terminal at the last index, left padding', () => {
    const gamma = 0.5;
    const windows = {
      batchSize: 3, context: 4,
      // window 0 full; window 1 left-padded by one and terminal at its last step; window 2 right-padded (RVDT-style)
      rewards: [1, 2, 3, 4, 0, 5, 6, 100, 7, 9, 0, 0],
      terminated: [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
      mask: [1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 0],
    };
    assert.deepEqual([...bootstrapIndices(windows)], [3, 3, 1]);
    const parts = nStepParts(windows, gamma);
    const targets = nStepTargets(parts, Tensor.from([8, 8, 10], [3, 1])).data;
    const { weights } = parts;
    // y2 = 3 + .5·8, y1 = 2 + .5·y2, y0 = 1 + .5·y1; r3 = 4 is never used
    assert.deepEqual([...targets.subarray(0, 3)], [3.75, 5.5, 7]);
    // terminal: the bootstrap (and r3 = 100) vanish; y2 = 6, y1 = 5 + .5·6
    assert.deepEqual([...targets.subarray(5, 7)], [8, 6]);
    // bootstrap at index 1: y0 = 7 + .5·10
    assert.equal(targets[8], 12);
    assert.deepEqual([...weights], [1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 0, 0]);
  });

  it('next-state targets shift by one step and skip the last position and padding', () => {
    const batch = syntheticBatch(new Rng(1), 2, 3);
    const { targets, weights } = nextStateTargets(batch);
    assert.deepEqual([...weights], [0, 1, 0, 1, 1, 0]);
    assert.deepEqual([...targets.subarray(3 * S, 4 * S)], [...batch.states.subarray(4 * S, 5 * S)]);
  });
});

describe('QT Q-term and its gradient path', () => {
  it('is −mean Q_i / detached mean |Q_j|: its action gradient matches finite differences (float64)', () => {
    withDefaultDType('float64', () => {
      const rng = new Rng(2);
      const critic = new TwinCritic(S, A, 8, rng);
      const rows = 5;
      const states = Tensor.from(Array.from({ length: rows * S }, () => rng.normal()), [rows, S]);
      const actionValues = Array.from({ length: rows * A }, () => Math.tanh(rng.normal()));
      const weights = Float32Array.from([1, 1, 0, 1, 1]);
      const actions = Tensor.from(actionValues, [rows, A]);
      actions.requiresGrad = true;
      const { loss } = qRegularizer(critic, states, actions, weights, 'q2');
      loss.backward();
      assert.ok(actions.grad !== null, 'the actions receive a gradient');
      const analytic = Array.from(hostArray(actions.grad!));
      // the denominator is detached: hold it at its value for the base actions
      const normalizer = tidy(() => {
        const { q1 } = critic.forward(states, actions);
        let total = 0;
        for (let r = 0; r < rows; r++) total += (weights[r] as number) * Math.abs(q1.data[r] as number);
        return total / 4;
      });
      const numeratorAt = (values: number[]): number => tidy(() => {
        const { q2 } = critic.forward(states, Tensor.from(values, [rows, A]));
        let total = 0;
        for (let r = 0; r < rows; r++) total += (weights[r] as number) * (q2.data[r] as number);
        return -total / 4 / normalizer;
      });
      const eps = 1e-6;
      actionValues.forEach((_, i) => {
        const plus = [...actionValues];
        const minus = [...actionValues];
        plus[i] = (plus[i] as number) + eps;
        minus[i] = (minus[i] as number) - eps;
        const numeric = (numeratorAt(plus) - numeratorAt(minus)) / (2 * eps);
        assert.ok(Math.abs((analytic[i] as number) - numeric) < 1e-7, `d/da[${i}]: analytic ${analytic[i]} vs numeric ${numeric}`);
      });
      assert.deepEqual(analytic.slice(2 * A, 3 * A), [0, 0], 'a padded row gets no gradient');
    });
  });

  it('reaches the actor parameters: directional derivative through actor and critic (float32)', () => {
    const config = tinyConfig({ dropout: 0 });
    const network: DecisionTransformerConfig = {
      stateDim: S, actionDim: A, context: config.context, width: config.width, layers: config.layers, heads: config.heads,
      mlpWidth: config.mlpWidth, activation: 'relu', maxTimestep: config.maxTimestep, embeddingDropout: 0, probDropout: 0,
      residDropout: 0, mlpDropout: 0, blockInit: 'gpt2', embeddingInit: 'torch',
    };
    const actor = new QtActor(network, new Rng(3));
    const critic = new TwinCritic(S, A, 16, new Rng(4));
    const batch = syntheticBatch(new Rng(5), 3, config.context);
    const rows = 3 * config.context;
    const rowStates = Tensor.borrow(batch.states, [rows, S]);
    const validRows = batch.mask.reduce((n, m) => n + m, 0);
    const maskedMean = (q: Tensor, transform: (v: number) => number): number => {
      let total = 0;
      for (let r = 0; r < rows; r++) total += (batch.mask[r] as number) * transform(q.data[r] as number);
      return total / validRows;
    };
    // the denominator is detached: hold it at its value for the base weights
    const normalizer = tidy(() => maskedMean(critic.forward(rowStates, reshape(actor.predict(batch).actions, [rows, A])).q1, Math.abs));
    const base = snapshot(actor);
    const direction = new Rng(6);
    const directions = actor.parameters().map((p) => Float64Array.from({ length: p.size }, () => direction.normal()));
    const numeratorAt = (eps: number): number => tidy(() => {
      actor.parameters().forEach((p, i) => {
        for (let j = 0; j < p.size; j++) p.data[j] = (base[i]?.[j] as number) + eps * (directions[i]?.[j] as number);
      });
      const { q2 } = critic.forward(rowStates, reshape(actor.predict(batch).actions, [rows, A]));
      return -maskedMean(q2, (v) => v) / normalizer;
    });
    const eps = 1e-2;
    const numeric = (numeratorAt(eps) - numeratorAt(-eps)) / (2 * eps);
    actor.parameters().forEach((p, i) => p.data.set(base[i] as Float64Array));
    actor.zeroGrad();
    critic.zeroGrad();
    tidy(() => {
      const { loss } = qRegularizer(critic, rowStates, reshape(actor.predict(batch).actions, [rows, A]), batch.mask, 'q2');
      loss.backward();
    });
    let analytic = 0;
    actor.parameters().forEach((p, i) => {
      const g = hostArray(p.gradOrZeros());
      for (let j = 0; j < p.size; j++) analytic += (g[j] as number) * (directions[i]?.[j] as number);
    });
    assert.ok(Math.abs(analytic) > 1e-4, `the Q-term moves the actor (directional derivative ${analytic})`);
    assert.ok(Math.abs(analytic - numeric) <= 3e-2 * Math.abs(numeric) + 1e-4, `analytic ${analytic} vs numeric ${numeric}`);
    assert.ok(critic.parameters().some((p) => hostArray(p.gradOrZeros()).some((g) => g !== 0)), 'the critic receives stray gradients too');
  });
});

describe('QT update', () => {
  const maxDifference = (actual: ArrayLike<number>, expected: ArrayLike<number>): number => {
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)));
    return worst;
  };
  /** every parameter of `module` equals (1 − w)·before + w·source */
  const assertBlended = (what: string, module: QtActor | TwinCritic, before: Float64Array[], source: QtActor | TwinCritic, weight: number): void => {
    const sources = source.parameters();
    module.parameters().forEach((p, i) => {
      const expected = Float64Array.from(before[i] as Float64Array, (v, j) => (1 - weight) * v + weight * (sources[i]?.data[j] as number));
      assert.ok(maxDifference(p.data, expected) < 1e-6, `${what}: ${p.name} is not the blend`);
    });
  };

  it('uses Adam with coupled L2 1e-4 for the actor and plain Adam for the critic, at 3e-4', () => {
    const algorithm = new QtAlgorithm(tinyConfig(), tinyContext(), new Rng(1));
    for (const optimizer of [algorithm.actorOptimizer, algorithm.criticOptimizer]) {
      assert.ok(optimizer instanceof Adam && !(optimizer instanceof AdamW));
      assert.equal(optimizer.baseLr, 3e-4);
    }
    assert.equal(algorithm.actorOptimizer.weightDecay, 1e-4);
    assert.equal(algorithm.criticOptimizer.weightDecay, 0);
    assert.equal(algorithm.actorOptimizer.params.length, algorithm.actor.parameters().length);
    assert.equal(algorithm.criticOptimizer.params.length, algorithm.critic.parameters().length);
  });

  it('updates the critic first, then the actor through the updated critic, from the pre-step EMA and targets', () => {
    const config = tinyConfig({ dropout: 0 });
    const batch = syntheticBatch(new Rng(7), config.batchSize, config.context);
    const stepped = new QtAlgorithm(config, tinyContext(), new Rng(1));
    const before = new QtAlgorithm(config, tinyContext(), new Rng(1));
    const scalars = stepped.update(batch, 0);
    const { batchSize: B, contextLength: K } = batch;
    const rowStates = Tensor.borrow(batch.states, [B * K, S]);
    tidy(() => {
      const windows = { batchSize: B, context: K, rewards: batch.rewards, terminated: batch.terminated, mask: batch.mask };
      // the critic loss of the pre-step weights, EMA actor and target critics
      const lastStates = Float32Array.from({ length: B * S }, (_, i) => batch.states[(Math.floor(i / S) * K + K - 1) * S + (i % S)] as number);
      const emaActions = before.emaActor.forward(batch).data;
      const lastActions = Float32Array.from({ length: B * A }, (_, i) => emaActions[(Math.floor(i / A) * K + K - 1) * A + (i % A)] as number);
      const bootstrap = before.criticTarget.qMin(Tensor.borrow(lastStates, [B, S]), Tensor.borrow(lastActions, [B, A])).data;
      const parts = nStepParts(windows, config.discount);
      const targets = nStepTargets(parts, Tensor.from(bootstrap, [B, 1])).data;
      const { weights } = parts;
      const { q1, q2 } = before.critic.forward(rowStates, Tensor.borrow(batch.actions, [B * K, A]));
      let squared = 0;
      for (let r = 0; r < B * K; r++) {
        squared += (weights[r] as number) * (((q1.data[r] as number) - (targets[r] as number)) ** 2 + ((q2.data[r] as number) - (targets[r] as number)) ** 2);
      }
      const expectedCriticLoss = squared / weights.reduce((n, w) => n + w, 0);
      assert.ok(Math.abs((scalars.critic_loss as number) - expectedCriticLoss) < 1e-4 * Math.max(1, expectedCriticLoss));
      // the Q-term's mean Q: pre-step actor, post-step critic (the actor step does not move the critic)
      const predicted = reshape(before.actor.predict(batch).actions, [B * K, A]);
      const meanOf = (q: Tensor): number => {
        let total = 0;
        for (let r = 0; r < B * K; r++) total += (batch.mask[r] as number) * (q.data[r] as number);
        return total / batch.mask.reduce((n, m) => n + m, 0);
      };
      const updated = stepped.critic.forward(rowStates, predicted);
      const stale = before.critic.forward(rowStates, predicted);
      const reported = scalars.q_mean as number;
      const matches = (value: number): boolean => Math.abs(reported - value) < 1e-5 * Math.max(1, Math.abs(value));
      assert.ok(matches(meanOf(updated.q1)) || matches(meanOf(updated.q2)), `q_mean ${reported} is not from the updated critic`);
      assert.ok(!matches(meanOf(stale.q1)) && !matches(meanOf(stale.q2)), 'q_mean came from the critic before its step');
    });
  });

  it('keeps the EMA actor frozen until after step 1000, then blends every 5 steps; Polyak 0.005 every step', () => {
    const algorithm = new QtAlgorithm(tinyConfig(), tinyContext(), new Rng(1));
    const batch = syntheticBatch(new Rng(8), 6, 4);
    const initialEma = snapshot(algorithm.emaActor);
    for (const step of [0, 1, 999, 1000]) {
      const target = snapshot(algorithm.criticTarget);
      algorithm.update(batch, step);
      assertBlended(`target critic at step ${step}`, algorithm.criticTarget, target, algorithm.critic, 0.005);
    }
    algorithm.emaActor.parameters().forEach((p, i) => assert.equal(maxDifference(p.data, initialEma[i] as Float64Array), 0, `EMA moved by step 1000: ${p.name}`));
    assert.ok(maxDifference(algorithm.actor.parameters()[0]?.data ?? [], initialEma[0] as Float64Array) > 0, 'the actor itself has moved');
    for (const step of [1001, 1002, 1003, 1004]) algorithm.update(batch, step);
    algorithm.emaActor.parameters().forEach((p, i) => assert.equal(maxDifference(p.data, initialEma[i] as Float64Array), 0, 'EMA moved off its schedule'));
    algorithm.update(batch, 1005);
    assertBlended('EMA at step 1005', algorithm.emaActor, initialEma, algorithm.actor, 0.005);
  });

  it('decays both learning rates on a cosine stepped once per 1000-step iteration', () => {
    const config = tinyConfig({ iterations: 4, stepsPerIteration: 1000 });
    const algorithm = new QtAlgorithm(config, tinyContext(), new Rng(1));
    const batch = syntheticBatch(new Rng(9), 6, 4);
    const lrAt = (step: number): Record<string, number> => metricsNow(algorithm.update(batch, step));
    const cosine = (iteration: number): number => 3e-4 * (1 + Math.cos((Math.PI * iteration) / 4)) / 2;
    for (const [step, iteration] of [[0, 0], [999, 0], [1000, 1], [2500, 2], [3999, 3]] as const) {
      const scalars = lrAt(step);
      assert.ok(Math.abs((scalars.lr_actor as number) - cosine(iteration)) < 1e-12, `actor lr at step ${step}`);
      assert.ok(Math.abs((scalars.lr_critic as number) - cosine(iteration)) < 1e-12, `critic lr at step ${step}`);
    }
    const flat = new QtAlgorithm(tinyConfig({ lrDecay: false }), tinyContext(), new Rng(1)).update(batch, 2500);
    assert.equal(flat.lr_actor, 3e-4);
  });

  it('softUpdate blends parameter by parameter', () => {
    const a = new TwinCritic(S, A, 4, new Rng(1));
    const b = new TwinCritic(S, A, 4, new Rng(2));
    const before = snapshot(a);
    softUpdate(a, b, 0.25);
    assertBlended('softUpdate', a, before, b, 0.25);
  });

  it('a short fit reduces the critic loss and the BC loss', () => {
    const config = tinyConfig({ batchSize: 16, context: 4, actorLr: 3e-3, criticLr: 3e-3, eta: 0.1, dropout: 0, clipNorm: 5 });
    const algorithm = new QtAlgorithm(config, tinyContext(), new Rng(11));
    const data = new Rng(12);
    const batches = Array.from({ length: 4 }, () => syntheticBatch(data, config.batchSize, config.context));
    const history: Array<Record<string, number>> = [];
    for (let step = 0; step < 120; step++) history.push(metricsNow(algorithm.update(batches[step % batches.length] as WindowBatch, step)));
    const mean = (name: string, from: number, to: number): number => history.slice(from, to).reduce((n, s) => n + (s[name] as number), 0) / (to - from);
    for (const name of ['critic_loss', 'bc_loss', 'action_loss', 'state_loss']) {
      const early = mean(name, 0, 8);
      const late = mean(name, 112, 120);
      assert.ok(late < 0.7 * early, `${name}: ${early} → ${late}`);
    }
    for (const scalars of history) for (const [name, value] of Object.entries(scalars)) assert.ok(Number.isFinite(value), `${name} is ${value}`);
  });
});

describe('QT inference', () => {
  it('builds candidates: consecutive target copies, N(0,1) fillers, jitter on rows >= M, the critic row last', () => {
    const M = 3;
    const N = 50;
    const K = 4;
    const mask = [0, 1, 1, 1];
    const targetRows = Float32Array.from([0, 3, 2.9, 2.8, 0, 2, 1.9, 1.8, 0, 1, 0.9, 0.8]);
    const rows = candidateReturns(targetRows, M, mask, 42, N, new Rng(1));
    const row = (n: number): number[] => [...rows.subarray(n * K, (n + 1) * K)];
    const jitter: number[] = [];
    for (let n = 0; n < N - 2; n++) {
      const m = Math.floor(n / 16);
      assert.equal(candidateKind(n, M, N), m);
      const expected = [...targetRows.subarray(m * K, (m + 1) * K)];
      assert.deepEqual(row(n).slice(0, K - 1), expected.slice(0, K - 1), `row ${n} history`);
      if (n < M) assert.equal(row(n)[K - 1], expected[K - 1], `clean row ${n} (a copy of target 1)`);
      else jitter.push((row(n)[K - 1] as number) - (expected[K - 1] as number));
    }
    const jitterStd = Math.sqrt(jitter.reduce((n, v) => n + v * v, 0) / jitter.length);
    assert.ok(jitterStd > 0.05 && jitterStd < 0.2, `jitter std ${jitterStd}`);
    assert.equal(candidateKind(48, M, N), 'random');
    assert.equal(row(48)[0], 0, 'padding stays 0 in a filler row');
    assert.ok(row(48).slice(1).every((v) => v !== 0 && Math.abs(v) < 6));
    assert.equal(candidateKind(49, M, N), 'critic');
    assert.equal(row(49)[K - 1], 42);
    // hopper (M = 2): 25 + 25, no filler; the critic overrides target 2's last copy
    assert.equal(candidateKind(24, 2, 50), 0);
    assert.equal(candidateKind(48, 2, 50), 1);
  });

  it('samples from softmax(Q) by default and takes the best with argmax', () => {
    const rng = new Rng(3);
    const scores = [0, Math.log(3), -50];
    const counts = [0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[chooseCandidate(scores, 'softmax', rng)]! += 1;
    assert.ok(Math.abs((counts[1] as number) / 4000 - 0.75) < 0.03, `P(1) = ${(counts[1] as number) / 4000}`);
    assert.equal(counts[2], 0);
    assert.equal(chooseCandidate(scores, 'argmax', rng), 1);
  });

  /** an actor that records the batches it is asked to act on */
  class RecordingActor extends QtActor {
    readonly seen: TransformerInput[] = [];
    override forward(batch: TransformerInput): Tensor {
      this.seen.push({ ...batch, returnsToGo: Float32Array.from(batch.returnsToGo), mask: batch.mask === null ? null : Float32Array.from(batch.mask) });
      return super.forward(batch);
    }
  }

  function policySetup(overrides: Partial<QtConfig>) {
    const config = tinyConfig({ dropout: 0, returnScale: 10, targetReturns: [30, 20], ...overrides });
    const algorithm = new QtAlgorithm(config, tinyContext(), new Rng(1));
    const actor = new RecordingActor(algorithm.actor.config, new Rng(2));
    actor.copyFrom(algorithm.actor);
    actor.eval();
    return { config, algorithm, actor };
  }

  const observations = (envs: number, t: number): Float64Array => Float64Array.from({ length: envs * S }, (_, i) => Math.sin(0.7 * i + t));

  function rollout(policy: QtPolicy, envs: number, steps: number): number[] {
    const out: number[] = [];
    const active = new Uint8Array(envs).fill(1);
    const actions = new Float32Array(envs * A);
    for (let e = 0; e < envs; e++) policy.beginEpisode(e);
    for (let t = 0; t < steps; t++) {
      policy.act(observations(envs, t), active, actions);
      out.push(...actions);
      policy.observeRewards(Float64Array.from({ length: envs }, (_, e) => 1 + e), active);
    }
    return out;
  }

  it('conditions the candidates on the target rows counted down by reward, and puts the critic value in the last row', () => {
    for (const criticReturn of ['reference', 'scaled'] as const) {
      const { config, algorithm, actor } = policySetup({ criticReturn, candidates: 6 });
      const policy = new QtPolicy(actor, algorithm.criticTarget, config, tinyContext(), 1, new Rng(5));
      rollout(policy, 1, 2);
      const second = actor.seen[1] as TransformerInput;
      const K = config.context;
      // rows 0-2 target 30, rows 3-5 target 20 (scale 10), reward 1 after the first step
      assert.deepEqual([...second.returnsToGo.subarray(0, K)].map((v) => Number(v.toFixed(5))), [0, 0, 3, 2.9]);
      assert.ok(Math.abs((second.returnsToGo[4 * K + K - 2] as number) - 2) < 1e-6);
      // the critic row: min Q'(s_0, a_0) minus r_0/scale (reference) or (Q - r_0)/scale (scaled)
      const slot = K - 2;
      const q = algorithm.criticTarget.qMin(
        Tensor.from(second.states.subarray(slot * S, (slot + 1) * S), [1, S]),
        Tensor.from(second.actions.subarray(slot * A, (slot + 1) * A), [1, A]),
      ).data[0] as number;
      const expected = criticReturn === 'reference' ? q - 1 / 10 : (q - 1) / 10;
      assert.ok(Math.abs((second.returnsToGo[6 * K - 1] as number) - expected) < 1e-6, `${criticReturn}: ${second.returnsToGo[6 * K - 1]} vs ${expected}`);
      assert.equal(second.batchSize, 6);
    }
  });

  it('is deterministic under a seed and batches environments into one forward', () => {
    const { config, algorithm, actor } = policySetup({});
    const run = (seed: number): number[] => rollout(new QtPolicy(actor, algorithm.criticTarget, config, tinyContext(), 3, new Rng(seed)), 3, 4);
    assert.deepEqual(run(7), run(7));
    assert.notDeepEqual(run(7), run(8));
    const forwards = actor.seen.length;
    rollout(new QtPolicy(actor, algorithm.criticTarget, config, tinyContext(), 3, new Rng(7)), 3, 2);
    assert.equal(actor.seen.length - forwards, 2, 'one forward per step for all environments');
    assert.equal(actor.seen.at(-1)?.batchSize, 3 * 50);
    // with argmax and no random rows or jitter (candidates = targets), envs batched = envs alone
    const plain = policySetup({ candidates: 2, selection: 'argmax' });
    const together = rollout(new QtPolicy(plain.actor, plain.algorithm.criticTarget, plain.config, tinyContext(), 2, new Rng(1)), 2, 3);
    const single = (env: number): number[] => {
      const policy = new QtPolicy(plain.actor, plain.algorithm.criticTarget, plain.config, tinyContext(), 1, new Rng(1));
      const out: number[] = [];
      const actions = new Float32Array(A);
      policy.beginEpisode(0);
      for (let t = 0; t < 3; t++) {
        policy.act(observations(2, t).subarray(env * S, (env + 1) * S), Uint8Array.of(1), actions);
        out.push(...actions);
        policy.observeRewards(Float64Array.of(1 + env), Uint8Array.of(1));
      }
      return out;
    };
    const interleaved = [0, 1, 2].flatMap((t) => [...single(0).slice(t * A, (t + 1) * A), ...single(1).slice(t * A, (t + 1) * A)]);
    together.forEach((v, i) => assert.ok(Math.abs(v - (interleaved[i] as number)) < 1e-5, `action ${i}: ${v} vs ${interleaved[i]}`));
  });

  it('counts which kind of candidate was chosen', () => {
    const { config, algorithm, actor } = policySetup({ targetReturns: [30, 20, 10] });
    const policy = new QtPolicy(actor, algorithm.criticTarget, config, tinyContext(), 2, new Rng(3));
    rollout(policy, 2, 5);
    const statistics = policy.candidateChoices();
    assert.deepEqual(statistics.map((s) => s.label), ['target 30', 'target 20', 'target 10', 'random', 'critic']);
    assert.equal(statistics.reduce((n, s) => n + s.chosen, 0), 10);
  });
});

describe('QT definition and presets', () => {
  it('has a preset for every run.sh dataset, each a valid config', () => {
    assert.equal(Object.keys(QT_PRESETS).length, 29);
    for (const [id, preset] of Object.entries(QT_PRESETS)) assert.ok(QtConfigSchema.safeParse(preset).success, id);
    const parse = (id: string): QtConfig => QtConfigSchema.parse(QT_PRESETS[id]);
    assert.deepEqual(
      (({ eta, clipNorm, context, steps, iterations, returnScale, targetReturns }) => ({ eta, clipNorm, context, steps, iterations, returnScale, targetReturns }))(parse('hopper-medium-replay-v2')),
      { eta: 3, clipNorm: 9, context: 20, steps: 101_000, iterations: 500, returnScale: 1000, targetReturns: [3600, 1800] },
    );
    assert.equal(parse('halfcheetah-medium-v2').context, 5);
    const hcme = parse('halfcheetah-medium-expert-v2');
    assert.deepEqual([hcme.steps, hcme.iterations, hcme.stepsPerIteration, hcme.eta, hcme.clipNorm], [100_000, 10, 10_000, 0.4, 15]);
    const umaze = parse('maze2d-umaze-v1');
    assert.deepEqual([umaze.clipNorm, umaze.iterations, umaze.steps, umaze.returnScale, umaze.targetReturns.length], [20, 100, 51_000, 10, 6]);
    assert.equal(parse('hammer-cloned-v1').steps, 31_000);
    assert.equal(parse('antmaze-large-diverse-v0').rewardTransform, 'qt-cql-antmaze');
    assert.equal(parse('antmaze-medium-diverse-v0').rewardTransform, 'none');
  });

  it('builds the critic at the actor\'s width unless criticWidth is set (the reference: Critic(hidden_dim=embed_dim))', () => {
    assert.equal(QtConfigSchema.parse({}).criticWidth, 256);
    assert.equal(QtConfigSchema.parse({ width: 64 }).criticWidth, 64);
    assert.equal(QtConfigSchema.parse({ width: 64, criticWidth: 256 }).criticWidth, 256);
    assert.equal(QtConfigSchema.parse({ width: 64, criticWidth: null }).criticWidth, 64);
    // a parsed config re-parses to itself, so a run's config.json keeps the width it built
    const parsed = QtConfigSchema.parse({ width: 32 });
    assert.deepEqual(QtConfigSchema.parse(JSON.parse(JSON.stringify(parsed))), parsed);
    const config = QtConfigSchema.parse({ context: 4, width: 8, layers: 1, heads: 2, mlpWidth: 16, maxTimestep: 64, batchSize: 6 });
    const modules = new QtAlgorithm(config, tinyContext(), new Rng(1)).modules();
    const shapeOf = (module: string, name: string): readonly number[] | undefined =>
      modules[module]?.namedParameters().find(([n]) => n === name)?.[1].shape;
    assert.deepEqual(shapeOf('critic', 'q1_model.0.weight'), [8, S + A]);
    assert.deepEqual(shapeOf('critic_target', 'q2_model.4.weight'), [8, 8]);
  });

  it('rejects fewer candidates than targets and a context below 2', () => {
    assert.equal(QtConfigSchema.safeParse({ candidates: 1, targetReturns: [1, 2] }).success, false);
    assert.equal(QtConfigSchema.safeParse({ context: 1 }).success, false);
  });

  it('is a complete algorithm definition: one joint evaluation condition, policy modules, checkpointed optimizers', () => {
    assert.equal(qtAlgorithm.name, 'qt');
    assert.equal(qtAlgorithm.sampler, 'qt');
    const algorithm = qtAlgorithm.create(tinyConfig({ returnScale: 10 }), tinyContext(), new Rng(1));
    assert.equal(qtAlgorithm.returnScale(tinyConfig({ returnScale: 10 })), 10);
    assert.equal(algorithm.evaluationConditions().length, 1);
    assert.deepEqual(Object.keys(algorithm.policyModules()), ['actor', 'critic_target']);
    assert.deepEqual(Object.keys(algorithm.modules()), ['actor', 'ema_actor', 'critic', 'critic_target']);
    assert.deepEqual(Object.keys(algorithm.optimizers()), ['actor', 'critic']);
    const names = algorithm.modules().actor?.namedParameters().map(([n]) => n) ?? [];
    assert.ok(names.includes('predict_state.weight') && names.includes('predict_action.weight'));
    assert.ok(algorithm.modules().critic?.namedParameters().some(([n]) => n === 'q2_model.6.bias'));
  });
});
