/**
 * Reinformer acting (spec 3.7): two forward passes per step, pass 1 writing the predicted return
 * into the context at the state's slot and pass 2 reading the Gaussian mean at that return token;
 * windows read at slot t while t < K and over the last K steps after; no reward decrement.
 * The policy is checked against a line-by-line transcription of the reference's evaluation loop.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyContext } from '../../src/algos/algorithm.js';
import { ReinformerNetwork, ReinformerPolicy, type ReinformerNetworkConfig } from '../../src/algos/reinformer.js';
import { noGrad, Rng, tidy } from '../../src/engine/index.js';

const network: ReinformerNetworkConfig = {
  stateDim: 4, actionDim: 2, context: 3, width: 16, layers: 2, heads: 2, maxTimestep: 64, dropout: 0.1,
};
const { stateDim: S, actionDim: A, context: K } = network;

function newModel(seed: number): ReinformerNetwork {
  const model = new ReinformerNetwork(network, new Rng(seed));
  // a nonzero learned std and a stronger return embedding, so that the return token visibly steers the action
  model.action_log_std.data.set([0.2, -0.3]);
  for (const p of model.transformer.embed_return.parameters()) for (let i = 0; i < p.size; i++) p.data[i] = (p.data[i] as number) * 4;
  return model.eval();
}

function policyContext(actionBound = 1): PolicyContext {
  return {
    obsDim: S, actionDim: A,
    stateMean: Float32Array.from({ length: S }, (_, d) => 0.1 * d),
    stateStd: Float32Array.from({ length: S }, (_, d) => 1 + 0.5 * d),
    actionLow: new Array<number>(A).fill(-actionBound), actionHigh: new Array<number>(A).fill(actionBound), maxEpisodeSteps: 100,
  };
}

function observationSequence(length: number, seed: number): Float64Array[] {
  const rng = new Rng(seed);
  return Array.from({ length }, () => Float64Array.from({ length: S }, () => 2 * rng.normal()));
}

interface ReferenceStep {
  action: number[];
  /** the return written into the context at step t (pass 1's prediction) */
  predictedReturn: number;
  /** what pass 2 would give with the return slot left at zero (a policy skipping pass 1) */
  actionWithoutPass1: number[];
}

/**
 * Reinformer_eval (eval.py) for one environment: zero buffers over the episode, window 0..K-1 read
 * at t while t < K, else t-K+1..t read at the end; rtg slot t = pass-1 prediction; action = mean.
 */
function referenceEpisode(model: ReinformerNetwork, context: PolicyContext, observations: Float64Array[]): ReferenceStep[] {
  const length = Math.max(observations.length, K);
  const states = new Float32Array(length * S);
  const actions = new Float32Array(length * A);
  const returns = new Float32Array(length);
  const forward = (start: number) => noGrad(() => model.forward({
    batchSize: 1,
    states: states.slice(start * S, (start + K) * S), actions: actions.slice(start * A, (start + K) * A),
    returnsToGo: returns.slice(start, start + K), timesteps: Int32Array.from({ length: K }, (_, k) => start + k), mask: null,
  }));
  const steps: ReferenceStep[] = [];
  observations.forEach((observation, t) => {
    for (let d = 0; d < S; d++) states[t * S + d] = ((observation[d] as number) - (context.stateMean[d] as number)) / (context.stateStd[d] as number);
    const start = t < K ? 0 : t - K + 1;
    const index = t - start;
    const actionWithoutPass1 = tidy(() => [...forward(start).actionMeans.data.subarray(index * A, (index + 1) * A)]);
    const predictedReturn = tidy(() => forward(start).returns.data[index] as number);
    returns[t] = predictedReturn;
    const action = tidy(() => [...forward(start).actionMeans.data.subarray(index * A, (index + 1) * A)]);
    actions.set(action, t * A);
    steps.push({ action, predictedReturn, actionWithoutPass1 });
  });
  return steps;
}

function assertNear(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tolerance = 1e-5): void {
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs((actual[i] as number) - (expected[i] as number)) <= tolerance, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

describe('Reinformer policy', () => {
  it('acts as the reference evaluation loop, in every environment of a batch, across t < K and t >= K', () => {
    const model = newModel(1);
    const context = policyContext();
    const steps = 8;
    // env 0 runs from the start; env 1 starts at step 2; env 2 restarts its episode at step 4
    const sequences = [observationSequence(steps, 10), observationSequence(steps - 2, 11), observationSequence(4, 12), observationSequence(steps - 4, 13)];
    const expected = {
      env0: referenceEpisode(model, context, sequences[0] as Float64Array[]),
      env1: referenceEpisode(model, context, sequences[1] as Float64Array[]),
      env2first: referenceEpisode(model, context, sequences[2] as Float64Array[]),
      env2second: referenceEpisode(model, context, sequences[3] as Float64Array[]),
    };
    const policy = new ReinformerPolicy(model, context, 3);
    const active = new Uint8Array(3);
    const observations = new Float64Array(3 * S);
    const actions = new Float32Array(3 * A);
    policy.beginEpisode(0);
    policy.beginEpisode(2);
    let passOneMattered = false;
    for (let t = 0; t < steps; t++) {
      if (t === 2) policy.beginEpisode(1);
      if (t === 4) policy.beginEpisode(2);
      const rows: Array<{ env: number; observation: Float64Array; step: ReferenceStep } | null> = [
        { env: 0, observation: sequences[0]?.[t] as Float64Array, step: expected.env0[t] as ReferenceStep },
        t >= 2 ? { env: 1, observation: sequences[1]?.[t - 2] as Float64Array, step: expected.env1[t - 2] as ReferenceStep } : null,
        t < 4
          ? { env: 2, observation: sequences[2]?.[t] as Float64Array, step: expected.env2first[t] as ReferenceStep }
          : { env: 2, observation: sequences[3]?.[t - 4] as Float64Array, step: expected.env2second[t - 4] as ReferenceStep },
      ];
      actions.fill(Number.NaN);
      rows.forEach((row, i) => {
        active[i] = row === null ? 0 : 1;
        if (row !== null) observations.set(row.observation, i * S);
      });
      policy.act(observations, active, actions);
      rows.forEach((row, i) => {
        const got = actions.subarray(i * A, (i + 1) * A);
        if (row === null) {
          assert.ok(got.every(Number.isNaN), `inactive env ${i} keeps its action row untouched`);
          return;
        }
        assertNear(got, row.step.action, `step ${t}, env ${i}`);
        if (row.step.actionWithoutPass1.some((v, d) => Math.abs(v - (row.step.action[d] as number)) > 1e-3)) passOneMattered = true;
      });
    }
    assert.ok(passOneMattered, 'the predicted return changes the action, so a policy skipping pass 1 would fail this test');
  });

  it('keeps the pass-1 predictions as the context returns, never decremented by rewards', () => {
    const model = newModel(2);
    const context = policyContext();
    const sequence = observationSequence(6, 20);
    const expected = referenceEpisode(model, context, sequence);
    const policy = new ReinformerPolicy(model, context, 1);
    // no observeRewards: nothing could decrement the returns
    assert.equal((policy as { observeRewards?: unknown }).observeRewards, undefined);
    policy.beginEpisode(0);
    const actions = new Float32Array(A);
    sequence.forEach((observation, t) => {
      policy.act(observation, Uint8Array.of(1), actions);
      assertNear(actions, expected[t]?.action ?? [], `action at step ${t}`);
      // slots 0..t while t < K, then the last K steps: each holds the return predicted at its step
      const first = Math.max(0, t - K + 1);
      const window = expected.slice(first, t + 1).map((s) => s.predictedReturn);
      assertNear(policy.buffer.returnsToGo.subarray(0, window.length), window, `context returns after step ${t}`);
      assertNear(policy.buffer.actions.subarray(0, window.length * A), expected.slice(first, t + 1).flatMap((s) => s.action), `context actions after step ${t}`);
      assert.deepEqual([...policy.buffer.timesteps.subarray(0, window.length)], window.map((_, k) => first + k));
    });
    // the predicted returns change from step to step: they are predictions, not a fixed target
    assert.ok(new Set(expected.map((s) => s.predictedReturn.toFixed(6))).size > 1);
  });

  it('is deterministic: the same weights and observations give bit-identical actions', () => {
    const model = newModel(3);
    const context = policyContext();
    const sequence = observationSequence(7, 30);
    const run = (): number[] => {
      const policy = new ReinformerPolicy(model, context, 2);
      policy.beginEpisode(0);
      policy.beginEpisode(1);
      const out: number[] = [];
      const actions = new Float32Array(2 * A);
      for (const observation of sequence) {
        const both = new Float64Array(2 * S);
        both.set(observation, 0);
        both.set(observation, S);
        policy.act(both, Uint8Array.of(1, 1), actions);
        out.push(...actions);
      }
      return out;
    };
    const first = run();
    assert.deepEqual(run(), first);
    // both environments saw the same observations, so they act alike (up to the last bits: a batched
    // matrix product may round two identical rows differently)
    for (let i = 0; i < first.length; i += 2 * A) assertNear(first.slice(i + A, i + 2 * A), first.slice(i, i + A), `row ${i / (2 * A)}`);
  });

  it('keeps actions inside the action bounds', () => {
    const model = newModel(4);
    const bound = 0.05;
    const policy = new ReinformerPolicy(model, policyContext(bound), 1);
    policy.beginEpisode(0);
    const actions = new Float32Array(A);
    let clipped = false;
    for (const observation of observationSequence(5, 40)) {
      policy.act(observation, Uint8Array.of(1), actions);
      for (const a of actions) {
        assert.ok(Math.abs(a) <= bound + 1e-7, `action ${a} outside ±${bound}`);
        if (Math.abs(Math.abs(a) - bound) < 1e-7) clipped = true;
      }
    }
    assert.ok(clipped, 'some mean lies outside the bounds and is clipped');
  });
});
