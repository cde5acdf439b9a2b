/**
 * QT's candidate-based acting (charleshsc/QT cb9e1a4, spec section 4), shared by QT and RVDT:
 * `candidates` contexts share the history and differ in their return-to-go rows (the targets
 * repeated consecutively, N(0,1) fillers, N(0, 0.1²) jitter, one row whose current return comes
 * from the target critic); one batched forward; the target critic scores each candidate's action
 * and a candidate is drawn from softmax(Q) (or taken by argmax).
 */
import { noGrad, tidy, Tensor, type Rng } from '../../engine/index.js';
import type { Module } from '../../nn/module.js';
import type { TransformerInput } from '../../nn/transformer.js';
import { predictWithoutGrad, type CandidateChoice, type EvaluationCondition, type PolicyContext, type PolicyModel, type SequencePolicy } from '../algorithm.js';
import type { QtActor } from './actors.js';
import { clampAction, ContextBuffer, normalizeState } from './context-buffer.js';
import type { TwinCritic } from './critic.js';


/** The settings that change only how candidate acting chooses, never the weights (a policy definition's actingSettings). */
export const CANDIDATE_ACTING_SETTINGS = ['targetReturns', 'candidates', 'selection', 'criticReturn'] as const satisfies readonly (keyof CandidateSettings)[];

/** The settings candidate acting reads (QT's and RVDT's config fields of these names). */
export interface CandidateSettings {
  context: number;
  maxTimestep: number;
  returnScale: number;
  /** the targets (raw return units) whose rows seed the candidates */
  targetReturns: readonly number[];
  candidates: number;
  selection: 'softmax' | 'argmax';
  criticReturn: 'reference' | 'scaled';
}

/**
 * The candidate return rows of one environment step, [N, K], built from the M target rows [M, K]
 * of the history (scaled returns-to-go), the window mask [K] and the critic-derived return:
 * - rows 0 … M⌊N/M⌋ − 1 repeat each target row ⌊N/M⌋ times consecutively;
 * - the remaining rows are i.i.d. N(0, 1) over the real slots (padding stays 0);
 * - rows M … N − 1 get N(0, 0.1²) added to their current (last) return;
 * - the last row's current return is replaced by the critic-derived value.
 */
export function candidateReturns(
  targetRows: Float32Array, targets: number, mask: ArrayLike<number>, criticReturn: number, candidates: number, rng: Rng,
  out = new Float32Array(candidates * mask.length),
): Float32Array {
  const K = mask.length;
  const copies = Math.floor(candidates / targets);
  for (let n = 0; n < candidates; n++) {
    const row = out.subarray(n * K, (n + 1) * K);
    if (n < copies * targets) row.set(targetRows.subarray(Math.floor(n / copies) * K, (Math.floor(n / copies) + 1) * K));
    else for (let k = 0; k < K; k++) row[k] = (mask[k] as number) === 1 ? rng.normal() : 0;
  }
  for (let n = targets; n < candidates; n++) out[n * K + K - 1] = (out[n * K + K - 1] as number) + 0.1 * rng.normal();
  out[candidates * K - 1] = criticReturn;
  return out;
}

/** The candidate kind of row n (see candidateReturns): a target index, 'random' or 'critic'. */
export function candidateKind(n: number, targets: number, candidates: number): number | 'random' | 'critic' {
  if (n === candidates - 1) return 'critic';
  const copies = Math.floor(candidates / targets);
  return n < copies * targets ? Math.floor(n / copies) : 'random';
}

/** The chosen index among scores: a draw from softmax(scores) (no temperature), or the argmax. */
export function chooseCandidate(scores: ArrayLike<number>, selection: 'softmax' | 'argmax', rng: Rng): number {
  let best = 0;
  for (let n = 1; n < scores.length; n++) if ((scores[n] as number) > (scores[best] as number)) best = n;
  if (selection === 'argmax') return best;
  const top = scores[best] as number;
  let total = 0;
  for (let n = 0; n < scores.length; n++) total += Math.exp((scores[n] as number) - top);
  let u = rng.uniform() * total;
  for (let n = 0; n < scores.length; n++) {
    u -= Math.exp((scores[n] as number) - top);
    if (u < 0) return n;
  }
  return scores.length - 1;
}

/**
 * QT's acting (and RVDT's) in N environments: every active environment contributes `candidates`
 * contexts to one batched actor forward; the target critics score the candidates' actions and one
 * is chosen per environment. The actor is used as it is (the caller puts it in eval mode).
 */
export class CandidatePolicy implements SequencePolicy {
  private readonly buffer: ContextBuffer;
  private readonly scratchState: Float32Array;
  private readonly targets: number;
  /** [numEnvs, M, K] each target's scaled return-to-go history, aligned with the buffer's slots */
  private readonly targetRows: Float32Array;
  /** [numEnvs, M] each target row's return for the next step, R_t − r_t / scale */
  private readonly nextReturns: Float64Array;
  /** r_{t−1} of each environment (0 before the first step), for the critic-derived candidate */
  private readonly previousReward: Float64Array;
  /** chosen counts by candidate kind: M targets, then random, then critic */
  private readonly chosenCounts: Float64Array;

  constructor(
    private readonly actor: { forward(batch: TransformerInput): Tensor },
    private readonly criticTarget: TwinCritic,
    private readonly config: CandidateSettings,
    private readonly context: PolicyContext,
    readonly numEnvs: number,
    private readonly rng: Rng,
  ) {
    const K = config.context;
    this.buffer = new ContextBuffer(numEnvs, K, context.obsDim, context.actionDim, 'left', config.maxTimestep);
    this.scratchState = new Float32Array(context.obsDim);
    this.targets = config.targetReturns.length;
    this.targetRows = new Float32Array(numEnvs * this.targets * K);
    this.nextReturns = new Float64Array(numEnvs * this.targets);
    this.previousReward = new Float64Array(numEnvs);
    this.chosenCounts = new Float64Array(this.targets + 2);
  }

  beginEpisode(envIndex: number): void {
    this.buffer.reset(envIndex);
    const M = this.targets;
    const K = this.config.context;
    this.targetRows.fill(0, envIndex * M * K, (envIndex + 1) * M * K);
    this.previousReward[envIndex] = 0;
  }

  act(observations: Float64Array, active: Uint8Array, actions: Float32Array): void {
    const { obsDim: S, actionDim: A } = this.context;
    const { context: K, candidates: N, returnScale } = this.config;
    const M = this.targets;
    const envs: number[] = [];
    for (let i = 0; i < this.numEnvs; i++) {
      if (active[i] !== 1) continue;
      envs.push(i);
      const first = this.buffer.stepCount[i] === 0;
      this.buffer.pushState(i, normalizeState(this.context, observations, i * S, this.scratchState), 0);
      for (let m = 0; m < M; m++) {
        const row = this.targetRows.subarray((i * M + m) * K, (i * M + m + 1) * K);
        row.copyWithin(0, 1);
        row[K - 1] = first ? (this.config.targetReturns[m] as number) / returnScale : (this.nextReturns[i * M + m] as number);
      }
    }
    if (envs.length === 0) return;
    tidy(() => noGrad(() => {
      const criticReturns = this.criticReturns(envs);
      const C = envs.length * N;
      const states = new Float32Array(C * K * S);
      const pastActions = new Float32Array(C * K * A);
      const timesteps = new Int32Array(C * K);
      const mask = new Float32Array(C * K);
      const returnsToGo = new Float32Array(C * K);
      const currentStates = new Float32Array(C * S);
      envs.forEach((i, e) => {
        const windowMask = this.buffer.mask.subarray(i * K, (i + 1) * K);
        candidateReturns(
          this.targetRows.subarray(i * M * K, (i + 1) * M * K), M, windowMask, criticReturns[e] as number, N, this.rng,
          returnsToGo.subarray(e * N * K, (e + 1) * N * K),
        );
        for (let n = 0; n < N; n++) {
          const c = e * N + n;
          states.set(this.buffer.states.subarray(i * K * S, (i + 1) * K * S), c * K * S);
          pastActions.set(this.buffer.actions.subarray(i * K * A, (i + 1) * K * A), c * K * A);
          timesteps.set(this.buffer.timesteps.subarray(i * K, (i + 1) * K), c * K);
          mask.set(windowMask, c * K);
          currentStates.set(this.buffer.states.subarray((i * K + K - 1) * S, (i * K + K) * S), c * S);
        }
      });
      const predicted = this.actor.forward({ batchSize: C, states, actions: pastActions, returnsToGo, timesteps, mask }).data;
      const candidateActions = new Float32Array(C * A);
      for (let c = 0; c < C; c++) candidateActions.set(predicted.subarray((c * K + K - 1) * A, (c * K + K) * A), c * A);
      const scores = this.criticTarget.qMin(Tensor.borrow(currentStates, [C, S]), Tensor.borrow(candidateActions, [C, A])).data;
      envs.forEach((i, e) => {
        const n = chooseCandidate(scores.subarray(e * N, (e + 1) * N), this.config.selection, this.rng);
        const kind = candidateKind(n, M, N);
        const slot = kind === 'critic' ? M + 1 : kind === 'random' ? M : kind;
        this.chosenCounts[slot] = (this.chosenCounts[slot] as number) + 1;
        const chosen = candidateActions.subarray((e * N + n) * A, (e * N + n + 1) * A);
        clampAction(this.context, chosen, actions, i * A);
        this.buffer.setCurrentAction(i, chosen);
      });
    }));
  }

  observeRewards(rewards: Float64Array, active: Uint8Array): void {
    const M = this.targets;
    const K = this.config.context;
    for (let i = 0; i < this.numEnvs; i++) {
      if (active[i] !== 1) continue;
      const reward = rewards[i] as number;
      for (let m = 0; m < M; m++) {
        this.nextReturns[i * M + m] = (this.targetRows[(i * M + m) * K + K - 1] as number) - reward / this.config.returnScale;
      }
      this.previousReward[i] = reward;
      this.buffer.advance(i);
    }
  }

  /** how often each kind of candidate was chosen since this policy was created */
  candidateChoices(): CandidateChoice[] {
    return [
      ...this.config.targetReturns.map((target, m) => ({ label: `target ${target}`, chosen: this.chosenCounts[m] as number })),
      { label: 'random', chosen: this.chosenCounts[this.targets] as number },
      { label: 'critic', chosen: this.chosenCounts[this.targets + 1] as number },
    ];
  }

  /**
   * The critic-derived current return of each environment: min(Q1', Q2')(s_{t−1}, a_{t−1}) from the
   * window's second-to-last slot (zero padding at t = 0), minus r_{t−1}/scale (reference units) or
   * (Q − r_{t−1})/scale (scaled).
   */
  private criticReturns(envs: readonly number[]): Float32Array {
    const { obsDim: S, actionDim: A } = this.context;
    const { context: K, returnScale } = this.config;
    const previousStates = new Float32Array(envs.length * S);
    const previousActions = new Float32Array(envs.length * A);
    envs.forEach((i, e) => {
      const slot = i * K + K - 2;
      previousStates.set(this.buffer.states.subarray(slot * S, (slot + 1) * S), e * S);
      previousActions.set(this.buffer.actions.subarray(slot * A, (slot + 1) * A), e * A);
    });
    const q = this.criticTarget.qMin(Tensor.borrow(previousStates, [envs.length, S]), Tensor.borrow(previousActions, [envs.length, A])).data;
    return Float32Array.from(envs, (i, e) => {
      const value = q[e] as number;
      const reward = this.previousReward[i] as number;
      return this.config.criticReturn === 'reference' ? value - reward / returnScale : (value - reward) / returnScale;
    });
  }
}

/**
 * What QT-family acting needs: the actor and the target critics that score its candidates (not the
 * EMA actor, the online critics or any optimizer). Weights are loaded into it from a policy file,
 * or it is the acting half of a training algorithm (CriticRegularizedAlgorithm).
 */
export class CandidateActingModel implements PolicyModel {
  constructor(
    readonly actor: QtActor,
    readonly criticTarget: TwinCritic,
    readonly config: CandidateSettings,
    readonly context: PolicyContext,
  ) {}

  /** acting reads the actor and the target critics */
  policyModules(): Record<string, Module> {
    return { actor: this.actor, critic_target: this.criticTarget };
  }

  /** one condition: the reference evaluates all targets jointly through the candidates */
  evaluationConditions(): EvaluationCondition[] {
    const { targetReturns, candidates, selection, criticReturn } = this.config;
    return [{ label: `targets ${targetReturns.join('/')}, ${candidates} candidates, ${selection}${criticReturn === 'scaled' ? ', scaled critic return' : ''}` }];
  }

  createPolicy(numEnvs: number, _condition: EvaluationCondition, rng: Rng): CandidatePolicy {
    return new CandidatePolicy(this.actor, this.criticTarget, this.config, this.context, numEnvs, rng);
  }

  /** the EMA actor is left in train mode: the reference's deep copy never leaves it */
  setTraining(training: boolean): void {
    this.actor.train(training);
  }

  /** the online actor's tanh mean (for RVDT's stochastic head, the Gaussian mean), as the BC term sees it */
  predictActions(batch: TransformerInput): Float32Array {
    return predictWithoutGrad(() => this.actor.forward(batch));
  }
}
