/**
 * Dataset thinning for return-coverage experiments (issue 7): make the high-return trajectories
 * of a dataset rare by keeping only a seeded random share of them, every other trajectory
 * untouched. "High return" is the expert subset of `selectExpertSubset` (the top fraction of
 * trajectories by undiscounted return, ties to the lower index, or a return threshold), so a
 * thinned dataset and RDT/RVDT's D_E agree on which trajectories are meant.
 *
 * Trajectories are kept whole and in their original order; every per-row column the store holds
 * (observations, actions, rewards, terminated, truncated and every `infos/<key>`) is copied row
 * for row, so the last row of each kept trajectory keeps its terminal or timeout flag and the
 * output segments back into exactly the kept trajectories.
 */
import type { Rng } from '../engine/rng.js';
import { selectExpertSubset } from './preprocess.js';
import { TrajectoryStore } from './store.js';
import type { InfoColumn } from './store.js';

export const DEFAULT_THIN_TOP_FRACTION = 0.1;

export interface ThinOptions {
  /** trajectories in the top `topFraction` by return count as high-return (default 0.1; selectExpertSubset's fraction rule) */
  topFraction?: number;
  /** alternatively every trajectory whose return reaches `threshold` (selectExpertSubset's threshold rule); not with topFraction */
  threshold?: number;
  /** share of the high-return trajectories to keep, in [0, 1]; round(keep · count), halves up */
  keep: number;
  /** draws which high-return trajectories stay */
  rng: Rng;
}

/** Episode returns of a store: quantiles with numpy's default (linear) interpolation; NaN when there are none. */
export interface ReturnDistribution {
  count: number;
  min: number;
  p25: number;
  median: number;
  p75: number;
  p90: number;
  max: number;
  mean: number;
}

export interface ThinSummary {
  /** how "high return" was defined */
  rule: { topFraction: number } | { threshold: number };
  keep: number;
  trajectories: { before: number; after: number };
  transitions: { before: number; after: number };
  highReturn: {
    /** the lowest return among the high-return trajectories (with the fraction rule, ties at it may fall either side) */
    threshold: number;
    /** high-return trajectories in the input */
    count: number;
    kept: number;
    dropped: number;
    transitions: { before: number; after: number };
  };
  returns: { before: ReturnDistribution; after: ReturnDistribution };
}

export interface ThinResult {
  store: TrajectoryStore;
  /** source episode of every output episode, ascending: output episode e is input episode keptEpisodes[e] */
  keptEpisodes: Int32Array;
  /** input episodes that were high-return and dropped, ascending */
  droppedEpisodes: Int32Array;
  summary: ThinSummary;
}

function quantileOfSorted(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = q * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below]! + (position - below) * (sorted[above]! - sorted[below]!);
}

export function returnDistribution(returns: Float64Array): ReturnDistribution {
  const sorted = returns.slice().sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    count: sorted.length,
    min: sorted.length === 0 ? Number.NaN : sorted[0]!,
    p25: quantileOfSorted(sorted, 0.25),
    median: quantileOfSorted(sorted, 0.5),
    p75: quantileOfSorted(sorted, 0.75),
    p90: quantileOfSorted(sorted, 0.9),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
  };
}

/**
 * Copies the rows of the given episodes (ascending, whole) out of a per-row column of `source`
 * with `dim` values per row. For columns the store does not hold, e.g. next_observations.
 */
export function gatherEpisodeRows(source: TrajectoryStore, episodes: Int32Array, data: Float32Array, dim: number): Float32Array {
  if (data.length < source.transitionCount * dim) throw new RangeError(`column has ${data.length} values, expected at least ${source.transitionCount * dim}`);
  return copyEpisodes(source, episodes, data, new Float32Array(countRows(source, episodes) * dim), dim);
}

function countRows(source: TrajectoryStore, episodes: Int32Array): number {
  let rows = 0;
  for (const episode of episodes) rows += source.episodeLength(episode);
  return rows;
}

function copyEpisodes<T extends Float32Array | Uint8Array>(source: TrajectoryStore, episodes: Int32Array, from: T, to: T, dim: number): T {
  let row = 0;
  for (const episode of episodes) {
    const start = source.episodeStarts[episode]!;
    const end = source.episodeStarts[episode + 1]!;
    to.set(from.subarray(start * dim, end * dim), row * dim);
    row += end - start;
  }
  return to;
}

/** A new store holding the given episodes of `source` (whole, in the given order), infos included. */
export function selectEpisodes(source: TrajectoryStore, episodes: Int32Array): TrajectoryStore {
  const rows = countRows(source, episodes);
  const episodeStarts = new Int32Array(episodes.length + 1);
  for (let k = 0; k < episodes.length; k++) episodeStarts[k + 1] = episodeStarts[k]! + source.episodeLength(episodes[k]!);
  const infos: Record<string, InfoColumn> = {};
  for (const [key, info] of Object.entries(source.infos)) infos[key] = { data: copyEpisodes(source, episodes, info.data, new Float32Array(rows * info.dim), info.dim), dim: info.dim };
  return new TrajectoryStore(source.obsDim, source.actionDim, {
    observations: copyEpisodes(source, episodes, source.observations, new Float32Array(rows * source.obsDim), source.obsDim),
    actions: copyEpisodes(source, episodes, source.actions, new Float32Array(rows * source.actionDim), source.actionDim),
    rewards: copyEpisodes(source, episodes, source.rewards, new Float32Array(rows), 1),
    terminated: copyEpisodes(source, episodes, source.terminated, new Uint8Array(rows), 1),
    truncated: copyEpisodes(source, episodes, source.truncated, new Uint8Array(rows), 1),
    episodeStarts,
    infos,
  });
}

/**
 * Keeps every trajectory outside the high-return set and a seeded random round(keep · H) of the H
 * high-return ones, whole and in their original order. The input store is not modified; the
 * output owns fresh arrays. The generator is drawn from only when 0 < kept < H.
 */
export function thinHighReturn(store: TrajectoryStore, options: ThinOptions): ThinResult {
  const { keep, rng } = options;
  if (!(keep >= 0 && keep <= 1)) throw new RangeError(`keep must be in [0, 1] (got ${keep})`);
  if (options.threshold !== undefined && options.topFraction !== undefined) throw new RangeError('give topFraction or threshold, not both');
  if (store.episodeCount === 0) throw new RangeError('cannot thin a store without trajectories');
  let rule: ThinSummary['rule'];
  if (options.threshold !== undefined) {
    rule = { threshold: options.threshold };
  } else {
    const topFraction = options.topFraction ?? DEFAULT_THIN_TOP_FRACTION;
    if (!(topFraction > 0 && topFraction <= 1)) throw new RangeError(`topFraction must be in (0, 1] (got ${topFraction})`);
    rule = { topFraction };
  }
  const subset = selectExpertSubset(store, 'threshold' in rule ? { threshold: rule.threshold } : { fraction: rule.topFraction });

  // High-return episodes in index order, so the draw does not depend on how ties were ranked.
  const high = Int32Array.from(subset.episodes).sort();
  // round half up; the epsilon keeps 0.35 · 10 (= 3.4999999999999996) from rounding down
  const keptCount = Math.min(high.length, Math.floor(keep * high.length + 0.5 + 1e-9));
  const keepHigh = new Uint8Array(store.episodeCount);
  if (keptCount === high.length) {
    for (const episode of high) keepHigh[episode] = 1;
  } else if (keptCount > 0) {
    // Partial Fisher-Yates: the first keptCount slots become a uniform random subset.
    const pool = high.slice();
    for (let i = 0; i < keptCount; i++) {
      const j = i + rng.int(pool.length - i);
      const chosen = pool[j]!;
      pool[j] = pool[i]!;
      pool[i] = chosen;
      keepHigh[chosen] = 1;
    }
  }

  const kept: number[] = [];
  const dropped: number[] = [];
  for (let e = 0; e < store.episodeCount; e++) {
    if (subset.isExpert[e] === 0 || keepHigh[e] === 1) kept.push(e);
    else dropped.push(e);
  }
  const keptEpisodes = Int32Array.from(kept);
  const thinned = selectEpisodes(store, keptEpisodes);

  let highTransitionsAfter = 0;
  for (const episode of high) if (keepHigh[episode] === 1) highTransitionsAfter += store.episodeLength(episode);
  const summary: ThinSummary = {
    rule,
    keep,
    trajectories: { before: store.episodeCount, after: thinned.episodeCount },
    transitions: { before: store.transitionCount, after: thinned.transitionCount },
    highReturn: {
      threshold: subset.threshold,
      count: high.length,
      kept: keptCount,
      dropped: high.length - keptCount,
      transitions: { before: subset.transitions, after: highTransitionsAfter },
    },
    returns: { before: returnDistribution(store.episodeReturns()), after: returnDistribution(thinned.episodeReturns()) },
  };
  return { store: thinned, keptEpisodes, droppedEpisodes: Int32Array.from(dropped), summary };
}
