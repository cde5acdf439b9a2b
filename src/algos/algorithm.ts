/**
 * What every algorithm provides to the training loop, the checkpoints and the policy file.
 * An algorithm file (dt.ts, reinformer.ts, ...) holds its model, loss, update and acting logic;
 * everything shared (the loop, evaluation, files) lives in src/train.
 */
import type { z } from 'zod';
import type { RewardTransform } from '../data/preprocess.js';
import type { SamplerMethod, WindowBatch } from '../data/sampler.js';
import type { TrajectoryStore } from '../data/store.js';
import { noGrad, tidy, type Rng, type Tensor } from '../engine/index.js';
import type { Module } from '../nn/module.js';
import type { Optimizer } from '../nn/optim.js';

/** Dataset facts a policy needs at inference; saved in the policy file. */
export interface PolicyContext {
  obsDim: number;
  actionDim: number;
  stateMean: Float32Array;
  stateStd: Float32Array;
  actionLow: number[];
  actionHigh: number[];
  /** the evaluation task's episode limit */
  maxEpisodeSteps: number;
}

/** A policy acting in N environments at once (structurally the envs' VectorPolicy). */
export interface SequencePolicy {
  beginEpisode(envIndex: number, episodeIndex: number, episodeSeed: number): void;
  /** observations [n, obsDim] (raw, unnormalized); writes actions [n, actionDim] for active rows */
  act(observations: Float64Array, active: Uint8Array, actions: Float32Array): void;
  observeRewards?(rewards: Float64Array, active: Uint8Array): void;
  /** for policies that choose among candidate actions (QT, RVDT): how often each kind was executed */
  candidateChoices?(): CandidateChoice[];
}

export interface CandidateChoice {
  /** e.g. "target 3600", "random", "critic" */
  label: string;
  /** environment steps that executed an action of this kind */
  chosen: number;
}

/** One evaluation setting of a policy, e.g. one target return of DT. */
export interface EvaluationCondition {
  /** a label for reports, e.g. "target 280" */
  label: string;
  /** the target return in raw reward units, when the policy is conditioned on one */
  targetReturn?: number;
}

export interface Algorithm {
  /** one training update on a sampled batch; returns every logged scalar by name (loss terms, grad_norm, lr) */
  update(batch: WindowBatch, step: number): Record<string, number>;
  /** modules a checkpoint holds, by name (the policy's modules among them) */
  modules(): Record<string, Module>;
  /** optimizers a checkpoint holds, with the parameter names in optimizer order */
  optimizers(): Record<string, { optimizer: Optimizer; names: string[] }>;
  /** JSON-safe scalars a checkpoint holds beyond modules and optimizers (none when omitted) */
  extraState?(): Record<string, number>;
  loadExtraState?(state: Record<string, number>): void;
  /** the modules of the deployed policy: the policy file holds exactly these */
  policyModules(): Record<string, Module>;
  /** the settings an evaluation runs (DT: one per target return; Reinformer: one) */
  evaluationConditions(): EvaluationCondition[];
  /** a policy for numEnvs environments in the given condition, using the current weights in eval mode */
  createPolicy(numEnvs: number, condition: EvaluationCondition, rng: Rng): SequencePolicy;
  /** switch dropout on (training) or off (acting) */
  setTraining(training: boolean): void;
  /**
   * The policy's deterministic action at every window position, [B·K·A] row-major: the tanh mean
   * (the Gaussian mean for stochastic heads), exactly the prediction the action loss compares with
   * batch.actions, teacher-forced on the batch's own returns-to-go, states and past actions. Runs in
   * whatever mode the caller set (setTraining(false) for evaluation) and keeps no gradient tape.
   * Padding positions get a value too; callers weigh positions by batch.mask.
   */
  predictActions(batch: WindowBatch): Float32Array;
}

/** A forward pass's values without a gradient tape, copied out of the pooled tensors (for predictActions). */
export function predictWithoutGrad(forward: () => Tensor): Float32Array {
  return tidy(() => noGrad(() => Float32Array.from(forward().data)));
}

/**
 * What an algorithm derives from its training dataset before training (RDT/RVDT: the expert subset).
 * A function of the store and the config alone, so a resumed run derives the same thing again.
 */
export interface DatasetPreparation {
  /** per-episode factor on each trajectory's draw weight, for the sampler's `episodeWeights` */
  samplerEpisodeWeights?: Float64Array;
  /** 1 for each episode of the expert subset, indexed by episode (as WindowBatch.episodes is) */
  expertEpisodes?: Uint8Array;
  /** JSON-safe facts for the run's records (e.g. the expert subset's size) */
  metadata: Record<string, number | string>;
}

export interface AlgorithmDefinition<Config extends { batchSize: number; steps: number; context: number }> {
  readonly name: string;
  readonly description: string;
  readonly configSchema: z.ZodType<Config>;
  /** per-dataset hyperparameters of the reference, by dataset id (partial configs over the defaults) */
  readonly presets: Readonly<Record<string, Partial<Config>>>;
  /** which reference sampling rules training uses */
  readonly sampler: SamplerMethod;
  /** the return scale for this dataset (network input = return-to-go / scale) */
  returnScale(config: Config): number;
  /** the reward change training applies before returns-to-go and value targets (default none) */
  rewardTransform?(config: Config): RewardTransform;
  /** per-episode training data from the dataset; a trainer calls it before `create` and the sampler when defined */
  prepare?(store: TrajectoryStore, config: Config): DatasetPreparation;
  /** `preparation`: what `prepare` returned, for training; absent when a policy file is loaded to act */
  create(config: Config, context: PolicyContext, rng: Rng, preparation?: DatasetPreparation): Algorithm;
}

/** An algorithm definition with its config type erased, for registries. */
export type AnyAlgorithmDefinition = AlgorithmDefinition<{ batchSize: number; steps: number; context: number }>;

/**
 * Per-environment histories for a causal sequence policy: the last K steps of normalized states,
 * actions, returns-to-go and timesteps of every environment, and a batch view over them.
 * `layout: 'left'` left-pads short histories with zeros and a mask (DT, QT inference);
 * `layout: 'right'` starts at slot 0 and reads at the current step's slot (Reinformer inference).
 */
export class ContextBuffer {
  readonly states: Float32Array;
  readonly actions: Float32Array;
  readonly returnsToGo: Float32Array;
  readonly timesteps: Int32Array;
  readonly mask: Float32Array;
  /** steps taken in each environment's episode */
  readonly stepCount: Int32Array;

  constructor(
    readonly numEnvs: number,
    readonly context: number,
    readonly obsDim: number,
    readonly actionDim: number,
    readonly layout: 'left' | 'right',
    private readonly maxTimestep: number,
  ) {
    const slots = numEnvs * context;
    this.states = new Float32Array(slots * obsDim);
    this.actions = new Float32Array(slots * actionDim);
    this.returnsToGo = new Float32Array(slots);
    this.timesteps = new Int32Array(slots);
    this.mask = new Float32Array(slots);
    this.stepCount = new Int32Array(numEnvs);
  }

  reset(env: number): void {
    const K = this.context;
    this.states.fill(0, env * K * this.obsDim, (env + 1) * K * this.obsDim);
    this.actions.fill(0, env * K * this.actionDim, (env + 1) * K * this.actionDim);
    this.returnsToGo.fill(0, env * K, (env + 1) * K);
    this.timesteps.fill(0, env * K, (env + 1) * K);
    this.mask.fill(0, env * K, (env + 1) * K);
    this.stepCount[env] = 0;
  }

  /** slot of the current step in env's window */
  currentSlot(env: number): number {
    const t = this.stepCount[env] as number;
    if (this.layout === 'left') return this.context - 1;
    return Math.min(t, this.context - 1);
  }

  /**
   * Start the current step: make room (shifting out the oldest step when the window is full) and
   * write the normalized state, the timestep and a placeholder zero action.
   */
  pushState(env: number, normalizedState: ArrayLike<number>, returnToGo: number): void {
    const K = this.context;
    const t = this.stepCount[env] as number;
    const full = this.layout === 'left' ? true : t >= K;
    if (full) this.shiftLeft(env);
    const slot = env * K + this.currentSlot(env);
    for (let d = 0; d < this.obsDim; d++) this.states[slot * this.obsDim + d] = normalizedState[d] as number;
    this.actions.fill(0, slot * this.actionDim, (slot + 1) * this.actionDim);
    this.returnsToGo[slot] = returnToGo;
    this.timesteps[slot] = Math.min(t, this.maxTimestep - 1);
    this.mask[slot] = 1;
  }

  setCurrentAction(env: number, action: ArrayLike<number>): void {
    const slot = env * this.context + this.currentSlot(env);
    for (let d = 0; d < this.actionDim; d++) this.actions[slot * this.actionDim + d] = action[d] as number;
  }

  setCurrentReturn(env: number, returnToGo: number): void {
    this.returnsToGo[env * this.context + this.currentSlot(env)] = returnToGo;
  }

  currentReturn(env: number): number {
    return this.returnsToGo[env * this.context + this.currentSlot(env)] as number;
  }

  /** finish the current step */
  advance(env: number): void {
    this.stepCount[env] = (this.stepCount[env] as number) + 1;
  }

  private shiftLeft(env: number): void {
    const K = this.context;
    const shift = <T extends Float32Array | Int32Array>(array: T, width: number): void => {
      array.copyWithin(env * K * width, (env * K + 1) * width, (env + 1) * K * width);
      array.fill(0, ((env + 1) * K - 1) * width, (env + 1) * K * width);
    };
    shift(this.states, this.obsDim);
    shift(this.actions, this.actionDim);
    shift(this.returnsToGo, 1);
    shift(this.timesteps, 1);
    shift(this.mask, 1);
  }
}

/** (s - mean) / std into out */
export function normalizeState(context: PolicyContext, observation: ArrayLike<number>, offset: number, out: Float32Array): Float32Array {
  for (let d = 0; d < context.obsDim; d++) {
    out[d] = ((observation[offset + d] as number) - (context.stateMean[d] as number)) / (context.stateStd[d] as number);
  }
  return out;
}
