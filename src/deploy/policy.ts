/**
 * A trained policy, ready to act: batched policies for evaluation loops and a single-environment
 * `act` / `observeReward` for driving one episode by hand (a script, a page). Built from a policy
 * file's bytes; nothing here touches files, optimizers or training code.
 */
import type { CandidateChoice, EvaluationCondition, PolicyModel, SequencePolicy } from '../algos/algorithm.js';
import { Rng } from '../engine/rng.js';
import { SafetensorsError } from '../nn/safetensors.js';
import { restorePolicyFromBytes, type ActingOverrides, type PolicyHeader } from './policy-file.js';

export interface LoadPolicyOptions {
  /** the condition `act` uses, by label (default: the first, the headline condition) */
  condition?: string;
  /** seeds the policy's own randomness, as the evaluation seed does during training (default 0) */
  seed?: number;
  /**
   * acting settings instead of the file's, e.g. `{ candidates: 50, selection: 'argmax' }` for QT
   * (the algorithm's `actingSettings`; anything else throws ActingSettingsError)
   */
  acting?: ActingOverrides;
}

export class Policy {
  readonly conditions: readonly EvaluationCondition[];
  private readonly single: SequencePolicy;
  private readonly observationRow: Float64Array;
  private readonly actionRow: Float32Array;
  private readonly activeRow = Uint8Array.of(1);
  private readonly rewardRow = new Float64Array(1);
  private episode = 0;
  /** act() was called and its step's reward has not been observed yet */
  private awaitingReward = false;

  constructor(
    readonly header: PolicyHeader,
    private readonly model: PolicyModel,
    private readonly condition: EvaluationCondition,
    private readonly seed: number,
  ) {
    this.conditions = model.evaluationConditions();
    this.observationRow = new Float64Array(header.context.obsDim);
    this.actionRow = new Float32Array(header.context.actionDim);
    this.single = this.createVectorPolicy(1, condition, new Rng(seed));
    this.single.beginEpisode(0, 0, seed);
  }

  /** a policy for numEnvs environments (the evaluation loop's interface) */
  createVectorPolicy(numEnvs: number, condition: EvaluationCondition = this.condition, rng: Rng = new Rng(this.seed)): SequencePolicy {
    return this.model.createPolicy(numEnvs, condition, rng);
  }

  /** start a new episode: the history is cleared */
  reset(episodeSeed = this.seed): void {
    this.episode += 1;
    this.single.beginEpisode(0, this.episode, episodeSeed);
    this.awaitingReward = false;
  }

  /** the action for a raw observation; call observeReward with the step's reward before the next act */
  act(observation: ArrayLike<number>): Float32Array {
    if (this.awaitingReward) throw new Error('Policy.act: call observeReward(reward) after each environment step (return-conditioned policies count the reward down)');
    if (observation.length !== this.observationRow.length) throw new RangeError(`Policy.act: expected ${this.observationRow.length} observation values, got ${observation.length}`);
    for (let d = 0; d < observation.length; d++) this.observationRow[d] = observation[d] as number;
    this.single.act(this.observationRow, this.activeRow, this.actionRow);
    this.awaitingReward = true;
    return this.actionRow.slice();
  }

  observeReward(reward: number): void {
    if (!this.awaitingReward) throw new Error('Policy.observeReward: no action is waiting for its reward');
    this.rewardRow[0] = reward;
    this.single.observeRewards?.(this.rewardRow, this.activeRow);
    this.awaitingReward = false;
  }

  /** Reinformer: the return it predicted at this episode's first step (reward units); undefined for other policies or before the first act */
  predictedReturn(): number | undefined {
    return this.single.firstPredictedReturn?.(0);
  }

  /** QT / RVDT: how often each kind of candidate was executed so far; undefined for other policies */
  candidateChoices(): CandidateChoice[] | undefined {
    return this.single.candidateChoices?.();
  }
}

/** A policy from a policy file's bytes (`source` names it in error messages). */
export function policyFromBytes(bytes: Uint8Array, options: LoadPolicyOptions = {}, source = 'policy file'): Policy {
  const { header, model } = restorePolicyFromBytes(bytes, source, options.acting);
  const conditions = model.evaluationConditions();
  const condition = options.condition === undefined ? conditions[0] : conditions.find((candidate) => candidate.label === options.condition);
  if (condition === undefined) {
    throw new SafetensorsError(`${source}: no evaluation condition '${options.condition}'; the policy has ${conditions.map((candidate) => `'${candidate.label}'`).join(', ')}`);
  }
  return new Policy(header, model, condition, options.seed ?? 0);
}
