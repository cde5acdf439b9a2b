/**
 * Every transformation between stored data and what a model sees, in one place (spec 1.2, 1.3,
 * 3.6, 4.4, 5.3): state statistics, reward transforms, return-to-go and the expert subset.
 */
import type { TrajectoryStore } from './store.js';

/** Added to the population std, as every reference implementation does. */
export const STD_EPSILON = 1e-6;

export interface StateStatistics {
  mean: Float32Array;
  std: Float32Array;
}

/** Per-dimension mean and population std (ddof 0) + 1e-6 over every kept observation, accumulated in float64. */
export function stateStatistics(store: TrajectoryStore): StateStatistics {
  const dim = store.obsDim;
  const n = store.transitionCount;
  const sum = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    const row = i * dim;
    for (let d = 0; d < dim; d++) sum[d]! += store.observations[row + d]!;
  }
  const mean = new Float64Array(dim);
  for (let d = 0; d < dim; d++) mean[d] = n > 0 ? sum[d]! / n : 0;
  // Two passes: the one-pass sum of squares loses precision for large offsets (e.g. maze positions).
  const squares = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    const row = i * dim;
    for (let d = 0; d < dim; d++) {
      const centred = store.observations[row + d]! - mean[d]!;
      squares[d]! += centred * centred;
    }
  }
  const std = new Float32Array(dim);
  for (let d = 0; d < dim; d++) std[d] = Math.sqrt(n > 0 ? squares[d]! / n : 0) + STD_EPSILON;
  return { mean: Float32Array.from(mean), std };
}

/**
 * Reward transforms used by the papers, applied before the return-to-go sum:
 * - `antmaze-reinformer`: r ← 100·r + 1 (Reinformer ≥ v1.1, every AntMaze dataset)
 * - `antmaze-reinformer-legacy`: r ← 100·r (Reinformer before June 2024)
 * - `qt-cql-antmaze`: r ← 4·(r − 0.5) (QT `--reward_tune cql_antmaze`, antmaze-large-diverse)
 */
export type RewardTransform = 'none' | 'antmaze-reinformer' | 'antmaze-reinformer-legacy' | 'qt-cql-antmaze';

export const REWARD_TRANSFORMS: readonly RewardTransform[] = ['none', 'antmaze-reinformer', 'antmaze-reinformer-legacy', 'qt-cql-antmaze'];

/** Returns a new array (the stored rewards stay raw, so statistics and reports use raw units). */
export function transformRewards(rewards: Float32Array, transform: RewardTransform): Float32Array {
  const out = new Float32Array(rewards.length);
  switch (transform) {
    case 'none':
      out.set(rewards);
      break;
    case 'antmaze-reinformer':
      for (let i = 0; i < rewards.length; i++) out[i] = 100 * rewards[i]! + 1;
      break;
    case 'antmaze-reinformer-legacy':
      for (let i = 0; i < rewards.length; i++) out[i] = 100 * rewards[i]!;
      break;
    case 'qt-cql-antmaze':
      for (let i = 0; i < rewards.length; i++) out[i] = 4 * (rewards[i]! - 0.5);
      break;
  }
  return out;
}

/**
 * G_t = Σ_{j=t}^{L-1} r_j inside each episode (undiscounted, current reward included), divided
 * by `scale`. Summed backwards in float64 so long episodes do not accumulate float32 error.
 */
export function returnsToGo(store: TrajectoryStore, options: { rewards?: Float32Array; scale?: number } = {}): Float32Array {
  const rewards = options.rewards ?? store.rewards;
  const scale = options.scale ?? 1;
  if (!(scale > 0) || !Number.isFinite(scale)) throw new RangeError(`return scale must be a positive number (got ${scale})`);
  if (rewards.length !== store.transitionCount) throw new RangeError(`rewards have ${rewards.length} values for ${store.transitionCount} transitions`);
  const out = new Float32Array(store.transitionCount);
  for (let e = 0; e < store.episodeCount; e++) {
    let suffix = 0;
    for (let i = store.episodeStarts[e + 1]! - 1; i >= store.episodeStarts[e]!; i--) {
      suffix += rewards[i]!;
      out[i] = suffix / scale;
    }
  }
  return out;
}

/**
 * How the expert subset D_E is chosen (RDT/RVDT; the paper's rule is unknown, spec 5.3):
 * the top `fraction` of trajectories by return, or every trajectory whose return reaches `threshold`.
 */
export type ExpertRule = { fraction: number } | { threshold: number };

export type ExpertSubsetOptions = ExpertRule & {
  /** rewards to rank by (default the stored raw rewards) */
  rewards?: Float32Array;
};

export interface ExpertSubset {
  /** episode indices, best return first (ties: lower index first) */
  episodes: Int32Array;
  /** 1 for each episode in the subset, indexed by episode */
  isExpert: Uint8Array;
  /** the lowest return that made the cut */
  threshold: number;
  /** steps held by the subset's trajectories */
  transitions: number;
}

/**
 * Fraction rule: the top ceil(fraction·E) trajectories by undiscounted return (at least one).
 * Threshold rule: every trajectory with return >= threshold; none reaching it is an error, since an
 * empty subset would silently turn rebalancing off.
 */
export function selectExpertSubset(store: TrajectoryStore, options: ExpertSubsetOptions): ExpertSubset {
  const returns = store.episodeReturns(options.rewards);
  if (returns.length === 0) throw new RangeError('expert subset of a store without episodes');
  const order = Array.from(returns.keys()).sort((a, b) => returns[b]! - returns[a]! || a - b);
  let count: number;
  if ('threshold' in options) {
    const { threshold } = options;
    if (!Number.isFinite(threshold)) throw new RangeError(`expert threshold must be a finite return (got ${threshold})`);
    count = order.findIndex((episode) => returns[episode]! < threshold);
    if (count < 0) count = order.length;
    if (count === 0) throw new RangeError(`no trajectory reaches the expert threshold ${threshold} (best return ${returns[order[0]!]!})`);
  } else {
    const { fraction } = options;
    if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`expert fraction must be in (0, 1] (got ${fraction})`);
    // The epsilon keeps 0.1 · 30 (= 3.0000000000000004 in float64) from rounding up to 4.
    count = Math.max(1, Math.ceil(fraction * returns.length - 1e-9));
  }
  const episodes = Int32Array.from(order.slice(0, count));
  const isExpert = new Uint8Array(returns.length);
  let transitions = 0;
  for (const episode of episodes) {
    isExpert[episode] = 1;
    transitions += store.episodeLength(episode);
  }
  return { episodes, isExpert, threshold: returns[episodes[count - 1]!]!, transitions };
}
