/**
 * Return-coverage rebalancing (Bai et al., "Rebalancing Return Coverage for Conditional Sequence
 * Modeling in Offline RL"; paper only, spec section 5), shared by RDT and RVDT: the expert subset
 * D_E, the action loss with expert positions weighted 1 + α (Proposition 1's KL term as a weighted
 * NLL, eq. 2 pooled or eq. 1 split) or expert trajectories duplicated in sampling, the behavior
 * cloning terms of a QT-family actor under that weighting, and the ablation's named variants.
 * docs/algorithms/rvdt.md records every decision and its reason.
 */
import { z } from 'zod';
import { selectExpertSubset } from '../../data/preprocess.js';
import type { WindowBatch } from '../../data/sampler.js';
import type { TrajectoryStore } from '../../data/store.js';
import {
  add, exp, gaussianLogProb, keepScalar, maskedRowSumMean, mean, mseLoss, mul, noGrad, reshape, scale, Tensor, type Scalar,
} from '../../engine/index.js';
import type { DatasetPreparation } from '../algorithm.js';
import { GaussianQtActor, nextStateTargets, type PolicyHead, type QtActor } from './actors.js';

// ---------------------------------------------------------------------------------------------
// Variants of the poster's ablation

/** Explicit rebalancing: none, the KL term as a weighted NLL, or duplicated expert trajectories. */
export type Rebalance = 'none' | 'kl' | 'dup';

export interface VariantComponents {
  readonly rebalance: Rebalance;
  readonly policy: PolicyHead;
}

type VariantTable = Readonly<Record<string, VariantComponents>>;

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
export function expandVariant(table: VariantTable, formerNames: Readonly<Record<string, string>> = {}): (raw: unknown) => unknown {
  return (raw) => {
    if (typeof raw !== 'object' || raw === null || !('variant' in raw) || typeof raw.variant !== 'string') return raw;
    // a saved config may use a variant's former name; it reads as the current one
    const variant = formerNames[raw.variant] ?? raw.variant;
    const components = table[variant];
    return components === undefined ? raw : { ...components, ...raw, variant };
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
   * log_std: the mean log σ (stochastic), both computed where the tensors live; expert_share: the
   * batch's share of real positions from D_E (from the batch alone, a number)
   */
  terms: Record<string, Scalar | number>;
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

  const terms: Record<string, Scalar | number> = {};
  noGrad(() => {
    terms.action_mse = keepScalar(mseLoss(means, targets, { weights: batch.mask }));
    if (logStd !== null) terms.log_std = keepScalar(mean(logStd));
  });
  let positions = 0;
  let expertPositionCount = 0;
  for (let row = 0; row < B * K; row++) {
    const m = batch.mask[row] as number;
    positions += m;
    expertPositionCount += m * (expert[row] as number);
  }
  terms.expert_share = expertPositionCount / positions;
  return { actionLoss, stateLoss, means, logStd, terms };
}
