/**
 * What every algorithm provides to the training loop, the checkpoints and the policy file, in two
 * parts: a PolicyModel is what acting needs (the policy's networks and how to act with them), an
 * Algorithm adds what training needs (losses, update, optimizers, training-only networks).
 * An algorithm file (dt.ts, reinformer.ts, ...) holds its network, config, losses and update;
 * pieces several algorithms share live in parts/; the loop, evaluation and files live in src/train;
 * loading a policy to act lives in src/deploy.
 */
import type { z } from 'zod';
import type { RewardTransform } from '../data/preprocess.js';
import type { SamplerMethod, WindowBatch } from '../data/sampler.js';
import type { TrajectoryStore } from '../data/store.js';
import { noGrad, Scalar, tidy, type Rng, type Tensor } from '../engine/index.js';
import type { Module } from '../nn/module.js';
import type { Optimizer } from '../nn/optim.js';
import type { TransformerInput } from '../nn/transformer.js';

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
  /**
   * For policies that predict the return they aim for (Reinformer): the prediction made at the first
   * step of envIndex's current episode, in reward units; undefined before that step. Reports show it.
   */
  firstPredictedReturn?(envIndex: number): number | undefined;
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

/** What acting needs: the policy's networks and how to act with them (no optimizer, no training-only network). */
export interface PolicyModel {
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
  predictActions(batch: TransformerInput): Float32Array;
}

/**
 * A training step's logged values by name: numbers the host knows, or Scalars that a device
 * computed (the trainer reads them while the next step runs; on the CPU backends they are known at once).
 */
export type StepMetrics = Record<string, number | Scalar>;

/** The metrics with every value the host already knows as a plain number (all of them on the CPU backends). */
export function settled(metrics: StepMetrics): StepMetrics {
  const values: StepMetrics = {};
  for (const [name, value] of Object.entries(metrics)) values[name] = typeof value === 'number' ? value : (value.known ?? value);
  return values;
}

/** The metrics' values now (CPU backends; throws for a value still on a device). */
export function metricsNow(metrics: StepMetrics): Record<string, number> {
  const values: Record<string, number> = {};
  for (const [name, value] of Object.entries(metrics)) values[name] = typeof value === 'number' ? value : value.now;
  return values;
}

/** The metrics' values, read from the device where they are not known yet. */
export async function readMetrics(metrics: StepMetrics): Promise<Record<string, number>> {
  const entries = await Promise.all(Object.entries(metrics).map(async ([name, value]) => [name, typeof value === 'number' ? value : await value.read()] as const));
  return Object.fromEntries(entries);
}

/** A PolicyModel that also trains. */
export interface Algorithm extends PolicyModel {
  /**
   * one training update on a sampled batch; returns every logged scalar by name (loss terms,
   * grad_norm, lr). It reads nothing on the host mid-step (no `.item()` or `.data` of a tensor it
   * computed), so that it runs on a device backend: logged terms are Scalars (`keepScalar`).
   */
  update(batch: WindowBatch, step: number): StepMetrics;
  /** modules a checkpoint holds, by name (the policy's modules among them) */
  modules(): Record<string, Module>;
  /** optimizers a checkpoint holds, with the parameter names in optimizer order */
  optimizers(): Record<string, { optimizer: Optimizer; names: string[] }>;
  /** JSON-safe scalars a checkpoint holds beyond modules and optimizers (none when omitted) */
  extraState?(): Record<string, number>;
  loadExtraState?(state: Record<string, number>): void;
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

/**
 * What loading a policy file needs of an algorithm: its name, its config schema and how to build
 * only what acting needs. Kept apart from the training definition (it refers to no training class)
 * so that code which only acts (src/deploy) carries no optimizer or update code into a bundle.
 */
export interface PolicyDefinition<Config extends { batchSize: number; steps: number; context: number }> {
  readonly name: string;
  readonly configSchema: z.ZodType<Config>;
  /**
   * the config fields that change only how a trained policy acts (its evaluation targets, QT's
   * candidates and how one is chosen), never its weights: what `loadPolicy`'s `acting` option and
   * `stitch eval --set` may override
   */
  readonly actingSettings: readonly string[];
  /** only what acting needs, for a policy file's weights to be loaded into (QT: the actor and its target critic) */
  createPolicyModel(config: Config, context: PolicyContext, rng: Rng): PolicyModel;
}

/** A policy definition with its config type erased, for registries. */
export type AnyPolicyDefinition = PolicyDefinition<{ batchSize: number; steps: number; context: number }>;

export interface AlgorithmDefinition<Config extends { batchSize: number; steps: number; context: number }> extends PolicyDefinition<Config> {
  readonly description: string;
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
  /** `preparation`: what `prepare` returned (absent: the algorithm cannot train on windows that need it) */
  create(config: Config, context: PolicyContext, rng: Rng, preparation?: DatasetPreparation): Algorithm;
}

/**
 * An algorithm's training definition on top of its policy definition. Call it as
 * `/* @__PURE__ *\/ withTraining(policy, {...})` so that bundlers drop the training half (and with
 * it the optimizers and update code) from code that only loads policies.
 */
export function withTraining<Config extends { batchSize: number; steps: number; context: number }>(
  policy: PolicyDefinition<Config>, training: Omit<AlgorithmDefinition<Config>, keyof PolicyDefinition<Config>>,
): AlgorithmDefinition<Config> {
  return { ...policy, ...training };
}

/** An algorithm definition with its config type erased, for registries. */
export type AnyAlgorithmDefinition = AlgorithmDefinition<{ batchSize: number; steps: number; context: number }>;
