/**
 * RDT: the return-rebalanced Decision Transformer (Bai et al., "Rebalancing Return Coverage for
 * Conditional Sequence Modeling in Offline RL"; paper only, no public code: spec section 5), and the
 * parts RVDT (rvdt.ts) shares with it. docs/algorithms/rvdt.md records every decision and its reason.
 *
 * Return-conditioned policies are poorly trained where high-return trajectories are rare. RDT adds
 * α·KL(π_θ ‖ π^e) on the expert subset D_E (the top trajectories by return); for a Gaussian policy
 * this is the NLL with expert positions weighted 1 + α (Proposition 1), which is what is optimized.
 * Two explicit rebalancing forms, as in the poster's ablation:
 * - `kl`: the weighted NLL (MSE for the deterministic head), normalized `pooled` (one weighted mean
 *   over all real positions, eq. 2) or `split` (data mean + α · expert mean, eq. 1 read literally);
 * - `dup`: expert trajectories drawn 1 + α times as often by the sampler (the definition's `prepare`
 *   returns the sampler's episode weights), the loss unweighted.
 * Policy heads: `deterministic` (QT's tanh mean, MSE) or `stochastic` (N(tanh mean, σ²) with a learned
 * state-independent σ, Gaussian NLL, as Reinformer's head).
 *
 * The family runs on QT's code base (actor network with its next-state head, Adam with coupled L2,
 * per-iteration cosine, QT's sampler and presets) so that the ablation's columns differ only in the
 * component they name. `--algo rdt` has no critic (the DT, DT-Dup and RDT columns) and acts like DT,
 * one target return per evaluation condition; `--algo rvdt` adds QT's critic and inference.
 */
import { z } from 'zod';
import { selectExpertSubset } from '../data/preprocess.js';
import type { WindowBatch } from '../data/sampler.js';
import type { TrajectoryStore } from '../data/store.js';
import {
  add, clip, exp, gaussianLogProb, maskedRowSumMean, mseLoss, mul, reshape, scale, Tensor, type Parameter, type Rng,
} from '../engine/index.js';
import type { Module } from '../nn/module.js';
import { Adam, type Schedule } from '../nn/optim.js';
import { gradientStep } from '../nn/step.js';
import {
  predictWithoutGrad,
  type Algorithm, type AlgorithmDefinition, type DatasetPreparation, type EvaluationCondition, type PolicyContext, type SequencePolicy,
} from './algorithm.js';
import { DtConfigSchema, DtPolicy, type DecisionTransformerConfig, type DtConfig } from './dt.js';
import { actorConfig, iterationCosine, nextStateTargets, QT_PRESETS, QtActor, QtConfigSchema, type ActorFactory } from './qt.js';
import { LOG_STD_MAX, LOG_STD_MIN } from './reinformer.js';

// ---------------------------------------------------------------------------------------------
// Variants of the poster's ablation

/** Explicit rebalancing: none, the KL term as a weighted NLL, or duplicated expert trajectories. */
export type Rebalance = 'none' | 'kl' | 'dup';
export type PolicyHead = 'deterministic' | 'stochastic';

export interface VariantComponents {
  readonly rebalance: Rebalance;
  readonly policy: PolicyHead;
}

type VariantTable = Readonly<Record<string, VariantComponents>>;

/** The ablation's columns without Q-value regularization: `--algo rdt --set variant=NAME`. */
export const RDT_VARIANTS = {
  dt: { rebalance: 'none', policy: 'deterministic' },
  'dt-dup': { rebalance: 'dup', policy: 'stochastic' },
  rdt: { rebalance: 'kl', policy: 'stochastic' },
} as const satisfies VariantTable;

/** The table's name for these components, or null for a combination the ablation does not name. */
export function variantOf<Table extends VariantTable>(table: Table, components: VariantComponents): (keyof Table & string) | null {
  for (const [name, entry] of Object.entries(table)) {
    if (entry.rebalance === components.rebalance && entry.policy === components.policy) return name;
  }
  return null;
}

/**
 * The schema's first step: a named variant fills in the components it fixes. Components given
 * explicitly are kept, so that a contradiction reaches `checkVariant` and is reported.
 */
export function expandVariant(table: VariantTable): (raw: unknown) => unknown {
  return (raw) => {
    if (typeof raw !== 'object' || raw === null || !('variant' in raw) || typeof raw.variant !== 'string') return raw;
    const components = table[raw.variant];
    return components === undefined ? raw : { ...components, ...raw };
  };
}

/** A named variant must agree with the components (`--set variant=rvdt-dup --set rebalance=kl` is refused). */
export function checkVariant(table: VariantTable) {
  return (config: VariantComponents & { variant: string | null }, issues: z.RefinementCtx): void => {
    if (config.variant === null) return;
    const expected = table[config.variant];
    if (expected === undefined) return;
    for (const field of ['rebalance', 'policy'] as const) {
      if (config[field] !== expected[field]) {
        issues.addIssue({ code: 'custom', path: [field], message: `variant ${config.variant} means ${field}=${expected[field]}, not ${config[field]}` });
      }
    }
  };
}

/** The schema's last step: `variant` records the name of the components trained (null: unnamed combination). */
export function nameVariant<Table extends VariantTable>(table: Table) {
  return <Config extends VariantComponents & { variant: (keyof Table & string) | null }>(config: Config): Config => (
    { ...config, variant: variantOf(table, config) }
  );
}

// ---------------------------------------------------------------------------------------------
// Configuration

/** The settings of explicit rebalancing and the policy head, shared by RDT and RVDT. */
export const REBALANCING_FIELDS = {
  rebalance: z.enum(['none', 'kl', 'dup']).default('kl'),
  policy: z.enum(['deterministic', 'stochastic']).default('stochastic'),
  /** expert positions weigh 1 + α (kl); expert trajectories are drawn 1 + α times as often (dup) */
  alpha: z.number().min(0).default(1),
  /** kl only: pooled = Σ m(1+αe)ℓ / Σ m (eq. 2); split = mean over the data + α · mean over expert positions (eq. 1) */
  klNormalization: z.enum(['pooled', 'split']).default('pooled'),
  /** D_E = the top ceil(fraction · E) trajectories by return ... */
  expertFraction: z.number().gt(0).max(1).default(0.1),
  /** ... or, when set, every trajectory whose (raw) return reaches this threshold */
  expertThreshold: z.number().nullable().default(null),
} as const;

export interface RebalancingConfig extends VariantComponents {
  alpha: number;
  klNormalization: 'pooled' | 'split';
  expertFraction: number;
  expertThreshold: number | null;
}

/** QT's settings that only the critic, its Q-term and the candidate inference read. */
const QT_CRITIC_FIELDS = {
  criticWidth: true, criticLr: true, eta: true, bcWeight: true, discount: true, tau: true, emaDecay: true,
  emaStart: true, emaEvery: true, candidates: true, selection: true, criticReturn: true,
} as const;

const RdtFieldsSchema = z.object(QtConfigSchema.shape).omit(QT_CRITIC_FIELDS).extend({
  /** the ablation column trained (input: a shorthand for its components; output: the components' name) */
  variant: z.enum(['dt', 'dt-dup', 'rdt']).nullable().default(null),
  ...REBALANCING_FIELDS,
}).strict();

export const RdtConfigSchema = z.preprocess(
  expandVariant(RDT_VARIANTS),
  RdtFieldsSchema.superRefine(checkVariant(RDT_VARIANTS)),
).transform(nameVariant(RDT_VARIANTS));

export type RdtConfig = z.output<typeof RdtConfigSchema>;

/** QT's run.sh presets (K, clip norm, return scale, targets, steps and cosine) without the critic's η. */
export const RDT_PRESETS: Record<string, Partial<RdtConfig>> = Object.fromEntries(
  Object.entries(QT_PRESETS).map(([id, { eta, ...withoutCritic }]) => [id, withoutCritic]),
);

// ---------------------------------------------------------------------------------------------
// The expert subset

/**
 * D_E from the stored (raw) rewards, the sampler's weights for `dup`, and what the run records.
 * Every variant reports the same D_E, so the ablation's runs can be compared on it.
 */
export function prepareRebalancing(store: TrajectoryStore, config: RebalancingConfig): DatasetPreparation {
  const threshold = config.expertThreshold;
  const subset = selectExpertSubset(store, threshold === null ? { fraction: config.expertFraction } : { threshold });
  const drawFactor = config.rebalance === 'dup' ? 1 + config.alpha : 1;
  const expertDraws = drawFactor * subset.transitions;
  return {
    expertEpisodes: subset.isExpert,
    ...(config.rebalance === 'dup' ? { samplerEpisodeWeights: Float64Array.from(subset.isExpert, (expert) => (expert === 1 ? drawFactor : 1)) } : {}),
    metadata: {
      ...(threshold === null
        ? { expert_rule: 'top-fraction', expert_fraction: config.expertFraction }
        : { expert_rule: 'return-threshold', expert_threshold: threshold }),
      expert_trajectories: subset.episodes.length,
      expert_transitions: subset.transitions,
      trajectories: store.episodeCount,
      transitions: store.transitionCount,
      expert_min_return: subset.threshold,
      // the expected share of sampled windows that come from D_E (length-weighted draws)
      expert_draw_share: expertDraws / (expertDraws + store.transitionCount - subset.transitions),
      rebalance: config.rebalance,
      alpha: config.alpha,
    },
  };
}

/** e [B·K]: 1 at every slot of a window drawn from an expert trajectory (the mask selects the real ones). */
export function expertPositions(batch: WindowBatch, expertEpisodes: Uint8Array | undefined): Float32Array {
  if (expertEpisodes === undefined) {
    throw new Error('RDT/RVDT training needs the expert subset: create the algorithm with the definition\'s prepare(store, config) result');
  }
  const { batchSize: B, contextLength: K } = batch;
  const expert = new Float32Array(B * K);
  for (let b = 0; b < B; b++) {
    const episode = batch.episodes[b] as number;
    if (episode >= expertEpisodes.length) throw new RangeError(`window ${b} is from episode ${episode}, but the expert flags cover ${expertEpisodes.length} episodes`);
    if (expertEpisodes[episode] === 1) expert.fill(1, b * K, (b + 1) * K);
  }
  return expert;
}

// ---------------------------------------------------------------------------------------------
// Losses

/** One weighted mean of per-position losses ℓ: factor · Σ_i weights_i ℓ_i / positions. */
export interface WeightedMean {
  weights: Float32Array;
  positions: number;
  factor: number;
}

/**
 * The action loss's weighting. With m the mask and e the expert indicator:
 * - none (and dup, whose rebalancing is the sampler's): Σ m ℓ / Σ m;
 * - kl pooled: Σ m (1 + α e) ℓ / Σ m — Proposition 1's weighted NLL (eq. 2) as one mean;
 * - kl split: Σ m ℓ / Σ m + α · Σ m e ℓ / Σ m e — eq. (1) read literally: the mean over the data
 *   plus α times the mean over the batch's expert positions (absent when the batch holds none).
 * The forms differ by the factor (positions / expert positions) in the effective α.
 */
export function actionLossWeighting(
  mask: Float32Array, expert: Float32Array, config: Pick<RebalancingConfig, 'rebalance' | 'alpha' | 'klNormalization'>,
): WeightedMean[] {
  let positions = 0;
  for (const m of mask) positions += m;
  if (config.rebalance !== 'kl') return [{ weights: mask, positions, factor: 1 }];
  if (config.klNormalization === 'pooled') {
    return [{ weights: Float32Array.from(mask, (m, i) => m * (1 + config.alpha * (expert[i] as number))), positions, factor: 1 }];
  }
  const expertWeights = Float32Array.from(mask, (m, i) => m * (expert[i] as number));
  let expertCount = 0;
  for (const w of expertWeights) expertCount += w;
  const terms: WeightedMean[] = [{ weights: mask, positions, factor: 1 }];
  if (expertCount > 0 && config.alpha > 0) terms.push({ weights: expertWeights, positions: expertCount, factor: config.alpha });
  return terms;
}

function sumTerms(terms: Tensor[]): Tensor {
  return terms.reduce((total, term) => add(total, term));
}

/** Σ over the weighting's means of the squared error averaged over action dimensions (QT's MSE when unweighted). */
export function weightedMse(predicted: Tensor, target: Tensor, weighting: readonly WeightedMean[]): Tensor {
  const cols = predicted.shape[predicted.rank - 1] as number;
  return sumTerms(weighting.map(({ weights, positions, factor }) => {
    const mean = mseLoss(predicted, target, { weights, normalizer: positions * cols });
    return factor === 1 ? mean : scale(mean, factor);
  }));
}

/**
 * Σ over the weighting's means of the Gaussian NLL −Σ_d log N(a_d; μ_d, σ_d²) per position (summed over
 * action dimensions, as Reinformer). With σ fixed this is (A / 2σ²) · weightedMse + a constant:
 * the deterministic head is Proposition 1's fixed-σ case.
 */
export function weightedGaussianNll(actions: Tensor, means: Tensor, logStd: Tensor, weighting: readonly WeightedMean[]): Tensor {
  const logProb = gaussianLogProb(actions, means, logStd);
  return sumTerms(weighting.map(({ weights, positions, factor }) => {
    let weightSum = 0;
    for (const w of weights) weightSum += w;
    // maskedRowSumMean divides by Σ weights; the weighting divides by its position count
    return scale(maskedRowSumMean(logProb, weights), positions > 0 ? (-factor * weightSum) / positions : 0);
  }));
}

/** a = μ + σ ⊙ ε, differentiable in μ and log σ (ε [rows, A] standard normal, σ = exp(log σ) [A]) */
export function reparameterizedActions(means: Tensor, logStd: Tensor, noise: Tensor): Tensor {
  return add(means, mul(noise, exp(logStd)));
}

// ---------------------------------------------------------------------------------------------
// Actor

/** QT's actor with a Gaussian head: mean tanh(W h) at the state token, σ one learned vector for every state. */
export class GaussianQtActor extends QtActor {
  /** log σ per action dimension (initialized at 0, as Reinformer's) */
  readonly action_log_std: Parameter;

  constructor(config: DecisionTransformerConfig, rng: Rng) {
    super(config, rng);
    this.action_log_std = this.addParameter('action_log_std', [config.actionDim]);
    this.action_log_std.data.fill(0);
  }

  /** log σ as the distribution uses it, clipped to Reinformer's [−20, 2] */
  clippedLogStd(): Tensor {
    return clip(this.action_log_std, LOG_STD_MIN, LOG_STD_MAX);
  }
}

export function actorFactory(policy: PolicyHead): ActorFactory {
  return policy === 'stochastic' ? (network, rng) => new GaussianQtActor(network, rng) : (network, rng) => new QtActor(network, rng);
}

/** The behavior-cloning terms of one batch, as tensors, and the scalars they log. */
export interface BehaviorLosses {
  /** the action term as optimized: weighted MSE (deterministic) or weighted Gaussian NLL (stochastic) */
  actionLoss: Tensor;
  /** QT's next-state MSE, unweighted */
  stateLoss: Tensor;
  /** predicted actions (the Gaussian means), [B·K, A] */
  means: Tensor;
  /** the stochastic head's clipped log σ [A]; null for the deterministic head */
  logStd: Tensor | null;
  /**
   * action_mse: the plain MSE of the means over real positions (comparable across variants);
   * log_std: the mean log σ (stochastic); expert_share: the batch's share of real positions from D_E
   */
  terms: Record<string, number>;
}

export function behaviorLosses(actor: QtActor, batch: WindowBatch, expert: Float32Array, weighting: readonly WeightedMean[]): BehaviorLosses {
  const { batchSize: B, contextLength: K, obsDim: S, actionDim: A } = batch;
  const { actions, nextStates } = actor.predict(batch);
  const means = reshape(actions, [B * K, A]);
  const targets = Tensor.borrow(batch.actions, [B * K, A]);
  const logStd = actor instanceof GaussianQtActor ? actor.clippedLogStd() : null;
  const actionLoss = logStd === null ? weightedMse(means, targets, weighting) : weightedGaussianNll(targets, means, logStd, weighting);
  const next = nextStateTargets(batch);
  const stateLoss = mseLoss(reshape(nextStates, [B * K, S]), Tensor.borrow(next.targets, [B * K, S]), { weights: next.weights });

  let squared = 0;
  let positions = 0;
  let expertPositionCount = 0;
  for (let row = 0; row < B * K; row++) {
    const m = batch.mask[row] as number;
    if (m === 0) continue;
    positions += m;
    expertPositionCount += m * (expert[row] as number);
    for (let d = 0; d < A; d++) squared += m * ((means.data[row * A + d] as number) - (batch.actions[row * A + d] as number)) ** 2;
  }
  const terms: Record<string, number> = { action_mse: squared / (positions * A) };
  if (logStd !== null) {
    let logStdSum = 0;
    for (let d = 0; d < A; d++) logStdSum += logStd.data[d] as number;
    terms.log_std = logStdSum / A;
  }
  terms.expert_share = expertPositionCount / positions;
  return { actionLoss, stateLoss, means, logStd, terms };
}

// ---------------------------------------------------------------------------------------------
// Training and acting without a critic

export class RdtAlgorithm implements Algorithm {
  readonly actor: QtActor;
  /** Adam with coupled L2, as QT's actor */
  readonly optimizer: Adam;
  private readonly schedule: Schedule;
  /** DtPolicy reads a DT config's context, maxTimestep and returnScale */
  private readonly acting: DtConfig;

  constructor(
    readonly config: RdtConfig, readonly context: PolicyContext, rng: Rng, private readonly preparation?: DatasetPreparation,
  ) {
    this.actor = actorFactory(config.policy)(actorConfig(config, context), rng);
    this.optimizer = new Adam(this.actor.parameters(), { lr: config.actorLr, weightDecay: config.actorWeightDecay });
    this.schedule = iterationCosine(config);
    this.acting = DtConfigSchema.parse({
      context: config.context, maxTimestep: config.maxTimestep, returnScale: config.returnScale, targetReturns: config.targetReturns,
    });
  }

  update(batch: WindowBatch, step: number): Record<string, number> {
    const expert = expertPositions(batch, this.preparation?.expertEpisodes);
    const weighting = actionLossWeighting(batch.mask, expert, this.config);
    let logged: Record<string, number> = {};
    const result = gradientStep({
      optimizer: this.optimizer, clipNorm: this.config.clipNorm, schedule: this.schedule, scheduleStep: step,
      loss: () => {
        const losses = behaviorLosses(this.actor, batch, expert, weighting);
        logged = { action_loss: losses.actionLoss.item(), state_loss: losses.stateLoss.item(), ...losses.terms };
        return add(losses.actionLoss, losses.stateLoss);
      },
      parts: () => logged,
    });
    return { loss: result.loss, ...logged, grad_norm: result.gradNorm, lr: result.lr };
  }

  modules(): Record<string, Module> {
    return { actor: this.actor };
  }

  optimizers() {
    return { actor: { optimizer: this.optimizer, names: this.actor.namedParameters().map(([n]) => n) } };
  }


  policyModules(): Record<string, Module> {
    return { actor: this.actor };
  }

  /** without a critic there is nothing to choose among candidates with: one condition per target, as DT */
  evaluationConditions(): EvaluationCondition[] {
    return this.config.targetReturns.map((target) => ({ label: `target ${target}`, targetReturn: target }));
  }

  /** acts with the mean action (the stochastic head's σ is a training device) */
  createPolicy(numEnvs: number, condition: EvaluationCondition): SequencePolicy {
    if (condition.targetReturn === undefined) throw new Error('RDT acts towards a target return; the condition has none');
    return new DtPolicy(this.actor, this.acting, this.context, numEnvs, condition.targetReturn);
  }

  setTraining(training: boolean): void {
    this.actor.train(training);
  }

  /** the tanh mean (the stochastic head's Gaussian mean), the prediction action_mse scores */
  predictActions(batch: WindowBatch): Float32Array {
    return predictWithoutGrad(() => this.actor.forward(batch));
  }
}

export const rdtAlgorithm: AlgorithmDefinition<RdtConfig> = {
  name: 'rdt',
  description: 'RDT (return-rebalanced DT; ablation columns dt, dt-dup, rdt): expert trajectories up-weighted by 1 + α in the NLL or duplicated in sampling',
  configSchema: RdtConfigSchema,
  presets: RDT_PRESETS,
  sampler: 'qt',
  returnScale: (config) => config.returnScale,
  rewardTransform: (config) => config.rewardTransform,
  prepare: (store, config) => prepareRebalancing(store, config),
  create: (config, context, rng, preparation) => new RdtAlgorithm(config, context, rng, preparation),
};
