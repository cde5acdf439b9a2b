/**
 * QT against the official code (charleshsc/QT cb9e1a4), from fixtures that
 * scripts/make_qt_fixtures.py writes by running the reference's own modules on fixed weights and
 * inputs: one Trainer.train_step (the n-step targets from the EMA actor and the target critics,
 * the twin critic loss, the actor's behaviour term and normalized Q-term through the updated
 * critic, both clipped Adam steps, the EMA and Polyak updates) and five environment steps of the
 * 50-candidate get_action (candidate returns, the batched forward, the target critic's scores,
 * softmax and choice), with torch's random draws replayed; RVDT's qt column, which reuses QT's
 * parts, takes the same training step. On the js and native backends, to
 * relative error 1e-4 (relative to each tensor's largest entry).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { actorLosses, QtConfigSchema } from '../../src/algos/qt.js';
import { QtActor } from '../../src/algos/parts/actors.js';
import { CandidateActingModel, candidateReturns, chooseCandidate } from '../../src/algos/parts/candidate-acting.js';
import { bootstrapIndices, bootstrapValues, nStepParts, nStepTargets, TwinCritic, twinCriticLoss, type QNumerator } from '../../src/algos/parts/critic.js';
import { actorConfig } from '../../src/algos/parts/qt-family.js';
import { RvdtAlgorithm, RvdtConfigSchema, type RvdtConfig } from '../../src/algos/rvdt.js';
import type { WindowBatch } from '../../src/data/sampler.js';
import { setBackend, Rng, Tensor, tidy, type HostBackendName } from '../../src/engine/index.js';
import { tryNativeBackend } from '../../src/engine/backends/index.js';
import { NativeBackend } from '../../src/engine/backends/native.js';
import { loadModuleTensors } from '../../src/nn/checkpoint.js';
import type { Module } from '../../src/nn/module.js';
import { hostArray } from '../../src/engine/tensor.js';
import { metricsNow } from '../../src/algos/algorithm.js';
import { A, qtFixtureContext as context, ReplayedCoinQt, S } from '../helpers/qt-fixture.js';
import { assertRelativeClose, openTorchFixture, relativeError } from '../helpers/fixtures.js';

const TOLERANCE = 1e-4;

/** RVDT (which reuses QT's critic, targets, Q-term and update) with the coin fixed likewise */
class ReplayedCoinRvdt extends RvdtAlgorithm {
  constructor(config: RvdtConfig, private readonly numerator: QNumerator) {
    // the qt column rebalances nothing: no window is from an expert trajectory
    super(config, context, new Rng(0), { expertEpisodes: new Uint8Array(1), metadata: {} });
  }

  protected override drawNumerator(): QNumerator {
    return this.numerator;
  }
}

/** An Rng that returns torch's recorded draws in the order Stitch consumes them */
class ReplayedRng extends Rng {
  private normals: number[] = [];
  private uniforms: number[] = [];

  constructor() {
    super(0);
  }

  script(normals: ArrayLike<number>, uniforms: ArrayLike<number>): void {
    this.normals = Array.from(normals);
    this.uniforms = Array.from(uniforms);
  }

  override normal(): number {
    const value = this.normals.shift();
    if (value === undefined) throw new Error('more normal draws than torch made');
    return value;
  }

  override uniform(): number {
    const value = this.uniforms.shift();
    if (value === undefined) throw new Error('more uniform draws than recorded');
    return value;
  }

  /** every recorded draw was consumed */
  drained(): boolean {
    return this.normals.length === 0 && this.uniforms.length === 0;
  }
}

const native = tryNativeBackend();
const backends: { name: HostBackendName; skip: string | false }[] = [
  { name: 'js', skip: false },
  { name: 'native', skip: native instanceof NativeBackend ? false : `native backend unavailable: ${native.message}` },
];
after(() => setBackend(native instanceof NativeBackend ? 'native' : 'js'));

for (const { name: backendName, skip } of backends) {
  describe(`QT against charleshsc/QT: one training step (qt_step.safetensors) on the ${backendName} backend`, { skip }, () => {
    const { metadata, tensor, prefixed } = openTorchFixture('qt_step.safetensors');
    const stored = JSON.parse(metadata.config ?? '{}') as Record<string, unknown>;
    const config = QtConfigSchema.parse({ ...stored, targetReturns: [1], candidates: 1 });
    const numerator = metadata.numerator as QNumerator;
    const step = Number(metadata.step);
    const B = config.batchSize;
    const K = config.context;
    // the reference's rtg has K + 1 steps; the network reads the first K (rtg[:, :-1])
    const rtg = tensor('input.rtg').data;
    const returnsToGo = new Float32Array(B * K);
    for (let b = 0; b < B; b++) for (let t = 0; t < K; t++) returnsToGo[b * K + t] = rtg[b * (K + 1) + t] as number;
    const dones = tensor('input.dones').data;
    const mask = Float32Array.from(tensor('input.mask').data);
    // the reference's terminal flag is dones[:, -1] (get_batch pads dones with 1 at padding)
    const terminated = Float32Array.from(dones, (d, i) => ((mask[i] as number) === 1 ? d : 0));
    const batch: WindowBatch = {
      batchSize: B, contextLength: K, obsDim: S, actionDim: A,
      states: Float32Array.from(tensor('input.states').data),
      actions: Float32Array.from(tensor('input.actions').data),
      rewards: Float32Array.from(tensor('input.rewards').data),
      returnsToGo, mask, terminated,
      timesteps: Int32Array.from(tensor('input.timesteps').data),
      episodes: new Int32Array(B), starts: new Int32Array(B),
    };
    const loaded = (): ReplayedCoinQt => {
      setBackend(backendName);
      const algorithm = new ReplayedCoinQt(config, numerator);
      for (const [module, value] of Object.entries(algorithm.modules())) loadModuleTensors(value, prefixed(`param.${module}.`), `param.${module}`);
      return algorithm;
    };
    const assertGradients = (module: Module, prefix: string): void => {
      for (const [name, p] of module.namedParameters()) assertRelativeClose(`gradient of ${name}`, hostArray(p.gradOrZeros()), tensor(`${prefix}${name}`).data, TOLERANCE);
    };

    it('builds the critic loss from n-step targets bootstrapped by the EMA actor and the target critics', () => {
      const algorithm = loaded();
      assert.ok(mask.includes(0) && terminated.includes(1), 'the fixture exercises padding and a terminal bootstrap');
      const windows = { batchSize: B, context: K, rewards: batch.rewards, terminated, mask };
      const parts = nStepParts(windows, config.discount, bootstrapIndices(windows));
      const bootstrap = bootstrapValues(algorithm.emaActor, algorithm.criticTarget, batch, parts.lastRows);
      assertRelativeClose('bootstrap values min(Q1\', Q2\')(s_T, ã_T)', bootstrap.data, tensor('output.bootstrap_values').data, TOLERANCE);
      const targets = nStepTargets(parts, bootstrap);
      const { weights } = parts;
      assert.deepEqual(Array.from(weights), Array.from(tensor('output.critic_target_weights').data), 'positions in the critic loss');
      assertRelativeClose('n-step targets', targets.data, tensor('output.critic_targets').data, TOLERANCE, (i) => (weights[i] as number) === 1);
      algorithm.critic.zeroGrad();
      tidy(() => {
        const loss = twinCriticLoss(algorithm.critic, Tensor.borrow(batch.states, [B * K, S]), Tensor.borrow(batch.actions, [B * K, A]), targets, weights);
        assertRelativeClose('critic loss', [loss.item()], tensor('output.critic_loss').data, TOLERANCE);
        loss.backward();
      });
      assertGradients(algorithm.critic, 'grad.critic.');
    });

    it('builds the actor loss (behaviour term + η · normalized Q-term) through the updated critic', () => {
      const algorithm = loaded();
      loadModuleTensors(algorithm.critic, prefixed('after.critic_before_actor.'), 'after.critic_before_actor');
      algorithm.actor.zeroGrad();
      tidy(() => {
        const losses = actorLosses(algorithm.actor, algorithm.critic, batch, numerator, { bc: config.bcWeight, eta: config.eta });
        assertRelativeClose('action MSE', [losses.actionLoss.item()], tensor('output.action_loss').data, TOLERANCE);
        assertRelativeClose('next-state MSE', [losses.stateLoss.item()], tensor('output.state_loss').data, TOLERANCE);
        assertRelativeClose(`Q-term (numerator ${numerator})`, [losses.qLoss.item()], tensor('output.q_loss').data, TOLERANCE);
        assertRelativeClose('actor loss', [losses.total.item()], tensor('output.actor_loss').data, TOLERANCE);
        losses.total.backward();
      });
      assertGradients(algorithm.actor, 'grad.actor.');
    });

    it('updates critic, actor, EMA actor and target critics as the reference\'s train_step does', () => {
      const algorithm = loaded();
      const logs = metricsNow(algorithm.update(batch, step));
      assertRelativeClose('logged critic loss', [logs.critic_loss ?? NaN], tensor('output.critic_loss').data, TOLERANCE);
      assertRelativeClose('logged actor loss', [logs.actor_loss ?? NaN], tensor('output.actor_loss').data, TOLERANCE);
      assertRelativeClose('logged BC loss', [logs.bc_loss ?? NaN], tensor('output.bc_loss').data, TOLERANCE);
      assertRelativeClose('critic gradient norm', [logs.critic_grad_norm ?? NaN], tensor('output.critic_grad_norm').data, TOLERANCE);
      assertRelativeClose('actor gradient norm', [logs.actor_grad_norm ?? NaN], tensor('output.actor_grad_norm').data, TOLERANCE);
      assert.ok((logs.critic_grad_norm ?? 0) > (config.clipNorm ?? Infinity) && (logs.actor_grad_norm ?? 0) > (config.clipNorm ?? Infinity), 'both clips act');
      for (const [module, value] of Object.entries(algorithm.modules())) {
        for (const [name, p] of value.namedParameters()) {
          const before = tensor(`param.${module}.${name}`).data;
          const expected = tensor(`after.${module}.${name}`).data;
          assertRelativeClose(`${module}.${name} after the step`, p.data, expected, TOLERANCE);
          // the soft updates move weights by 0.5% of a gap: compare the moves themselves too
          // (1e-3: both sides are differences of float32-stored weights)
          const moved = Float64Array.from(p.data, (v, i) => v - (before[i] as number));
          const expectedMove = Float64Array.from(expected, (v, i) => v - (before[i] as number));
          const error = relativeError(moved, expectedMove);
          assert.ok(error <= 1e-3, `${module}.${name}: the step's change, relative error ${error}`);
        }
      }
    });
  });

  describe(`RVDT's qt column against charleshsc/QT: the shared parts take the reference's step, on the ${backendName} backend`, { skip }, () => {
    it('updates all four modules as train_step does', () => {
      const { metadata, tensor, prefixed } = openTorchFixture('qt_step.safetensors');
      const stored = JSON.parse(metadata.config ?? '{}') as Record<string, unknown>;
      const config = RvdtConfigSchema.parse({ ...stored, targetReturns: [1], candidates: 1, variant: 'qt' });
      setBackend(backendName);
      const algorithm = new ReplayedCoinRvdt(config, metadata.numerator as QNumerator);
      for (const [module, value] of Object.entries(algorithm.modules())) loadModuleTensors(value, prefixed(`param.${module}.`), `param.${module}`);
      const B = config.batchSize;
      const K = config.context;
      const rtg = tensor('input.rtg').data;
      const mask = Float32Array.from(tensor('input.mask').data);
      algorithm.update({
        batchSize: B, contextLength: K, obsDim: S, actionDim: A,
        states: Float32Array.from(tensor('input.states').data), actions: Float32Array.from(tensor('input.actions').data),
        rewards: Float32Array.from(tensor('input.rewards').data),
        returnsToGo: Float32Array.from({ length: B * K }, (_, i) => rtg[Math.floor(i / K) * (K + 1) + (i % K)] as number),
        mask, terminated: Float32Array.from(tensor('input.dones').data, (d, i) => ((mask[i] as number) === 1 ? d : 0)),
        timesteps: Int32Array.from(tensor('input.timesteps').data), episodes: new Int32Array(B), starts: new Int32Array(B),
      }, Number(metadata.step));
      for (const [module, value] of Object.entries(algorithm.modules())) {
        for (const [name, p] of value.namedParameters()) assertRelativeClose(`${module}.${name} after the step`, p.data, tensor(`after.${module}.${name}`).data, TOLERANCE);
      }
    });
  });

  describe(`QT against charleshsc/QT: 50-candidate inference (qt_inference.safetensors) on the ${backendName} backend`, { skip }, () => {
    const { metadata, tensor, prefixed } = openTorchFixture('qt_inference.safetensors');
    const config = QtConfigSchema.parse(JSON.parse(metadata.config ?? '{}'));
    const steps = Number(metadata.steps);
    const N = config.candidates;
    const K = config.context;
    const M = config.targetReturns.length;
    const loaded = (): CandidateActingModel => {
      setBackend(backendName);
      const rng = new Rng(0);
      const model = new CandidateActingModel(new QtActor(actorConfig(config, context), rng), new TwinCritic(S, A, config.criticWidth, rng), config, context);
      for (const [module, value] of Object.entries(model.policyModules())) loadModuleTensors(value, prefixed(`param.${module}.`), `param.${module}`);
      model.setTraining(false);
      return model;
    };

    it('builds the same candidates, predicts and scores them alike, and makes the same choice, step by step', () => {
      const model = loaded();
      const rng = new ReplayedRng();
      for (let t = 0; t < steps; t++) {
        const at = (name: string): ArrayLike<number> => tensor(`inference.${t}.${name}`).data;
        const returnsToGo = at('returns_to_go');
        const realSlots = Math.min(t + 1, K);
        const mask = Float32Array.from({ length: K }, (_, k) => (k >= K - realSlots ? 1 : 0));
        // candidate returns: the target rows, fillers and jitter from torch's draws, the critic row as torch had it
        rng.script(at('normals'), []);
        const rows = candidateReturns(Float32Array.from(at('target_rows')), M, mask, returnsToGo[N * K - 1] as number, N, rng);
        assert.ok(rng.drained(), `step ${t}: Stitch draws as many normals as torch`);
        assertRelativeClose(`step ${t}: candidate returns-to-go`, rows, returnsToGo, TOLERANCE);
        // one batched forward over the reference's candidates, scored by the target critic
        const candidateStates = new Float32Array(N * K * S);
        const candidateActions = new Float32Array(N * K * A);
        const timesteps = new Int32Array(N * K);
        const states = tensor('input.states').data;
        for (let n = 0; n < N; n++) {
          for (let k = K - realSlots; k < K; k++) {
            const step = t - (K - 1 - k);
            for (let d = 0; d < S; d++) candidateStates[(n * K + k) * S + d] = states[step * S + d] as number;
            timesteps[n * K + k] = step;
            if (step < t) {
              const chosen = tensor(`inference.${step}.action`).data;
              for (let d = 0; d < A; d++) candidateActions[(n * K + k) * A + d] = chosen[d] as number;
            }
          }
        }
        const { q } = tidy(() => {
          const predicted = model.actor.forward({
            batchSize: N, states: candidateStates, actions: candidateActions, returnsToGo: Float32Array.from(returnsToGo),
            timesteps, mask: new Float32Array(N * K).map((_, i) => mask[i % K] as number),
          }).data;
          const last = new Float32Array(N * A);
          for (let n = 0; n < N; n++) last.set(predicted.subarray((n * K + K - 1) * A, (n * K + K) * A), n * A);
          assertRelativeClose(`step ${t}: candidate actions`, last, at('candidate_actions'), TOLERANCE);
          const current = new Float32Array(N * S);
          for (let n = 0; n < N; n++) for (let d = 0; d < S; d++) current[n * S + d] = states[t * S + d] as number;
          return { q: Float32Array.from(model.criticTarget.qMin(Tensor.borrow(current, [N, S]), Tensor.borrow(last, [N, A])).data) };
        });
        assertRelativeClose(`step ${t}: candidate scores min(Q1', Q2')`, q, at('q'), TOLERANCE);
        const top = Math.max(...q);
        const weights = Array.from(q, (v) => Math.exp(v - top));
        const total = weights.reduce((a, b) => a + b, 0);
        assertRelativeClose(`step ${t}: softmax(Q)`, weights.map((w) => w / total), at('probabilities'), TOLERANCE);
        const index = at('index')[0] as number;
        rng.script([], at('uniform'));
        assert.equal(chooseCandidate(q, 'softmax', rng), index, `step ${t}: the draw torch.multinomial made picks the same candidate`);
        // argmax: the best candidate by torch's scores, up to ties within the tolerance (this tiny
        // critic scores the 50 candidates within about 1e-3 of each other)
        const referenceQ = Array.from(at('q'));
        const referenceTop = Math.max(...referenceQ);
        const chosen = chooseCandidate(q, 'argmax', rng);
        const shortfall = (referenceTop - (referenceQ[chosen] as number)) / Math.max(...referenceQ.map(Math.abs));
        assert.ok(shortfall <= TOLERANCE, `step ${t}: argmax picks candidate ${chosen}, ${shortfall} below torch's best`);
      }
    });

    it('acts as get_action does over five steps: same chosen action each step, the critic row from the previous step', () => {
      const model = loaded();
      const rng = new ReplayedRng();
      const policy = model.createPolicy(1, model.evaluationConditions()[0] ?? { label: '' }, rng);
      const states = tensor('input.states').data;
      const rewards = tensor('input.rewards').data;
      const active = Uint8Array.of(1);
      policy.beginEpisode(0);
      for (let t = 0; t < steps; t++) {
        const at = (name: string): ArrayLike<number> => tensor(`inference.${t}.${name}`).data;
        rng.script(at('normals'), at('uniform'));
        const action = new Float32Array(A);
        policy.act(Float64Array.from({ length: S }, (_, d) => states[t * S + d] as number), active, action);
        assert.ok(rng.drained(), `step ${t}: every recorded draw used`);
        assertRelativeClose(`step ${t}: chosen action`, action, at('action'), TOLERANCE);
        policy.observeRewards(Float64Array.of(rewards[t] as number), active);
      }
    });
  });
}
