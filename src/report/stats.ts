/**
 * Summary statistics for comparing final scores across seeds: mean, sample standard deviation,
 * the interquartile mean (rliable's recommendation for few runs) and a percentile bootstrap
 * confidence interval for it.
 */
import { Rng } from '../engine/rng.js';

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** sample standard deviation (n - 1): seeds are a sample of what the algorithm does; 0 for one run */
export function sampleStd(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  return Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (values.length - 1));
}

/**
 * Interquartile mean: the mean after dropping floor(n/4) values at each end (scipy's
 * trim_mean(x, 0.25), as rliable computes it). With fewer than 4 runs nothing is dropped.
 */
export function interquartileMean(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const cut = Math.floor(sorted.length / 4);
  return mean(sorted.slice(cut, sorted.length - cut));
}

export interface ConfidenceInterval {
  low: number;
  high: number;
  /** the coverage asked for, e.g. 0.95 */
  level: number;
  resamples: number;
}

/**
 * Percentile bootstrap interval of `statistic` over runs resampled with replacement. Seeded, so
 * the same scores always give the same interval.
 */
export function bootstrapInterval(
  values: readonly number[],
  statistic: (sample: readonly number[]) => number,
  options: { resamples?: number; level?: number; seed?: number } = {},
): ConfidenceInterval {
  const resamples = options.resamples ?? 2000;
  const level = options.level ?? 0.95;
  if (values.length === 0) return { low: Number.NaN, high: Number.NaN, level, resamples };
  const rng = new Rng(options.seed ?? 0);
  const estimates = new Float64Array(resamples);
  const sample = new Array<number>(values.length);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < values.length; i++) sample[i] = values[rng.int(values.length)] as number;
    estimates[r] = statistic(sample);
  }
  estimates.sort();
  const tail = (1 - level) / 2;
  return { low: quantileOfSorted(estimates, tail), high: quantileOfSorted(estimates, 1 - tail), level, resamples };
}

/** linear interpolation between order statistics (numpy's default) */
export function quantileOfSorted(sorted: ArrayLike<number>, q: number): number {
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  const weight = position - below;
  return (sorted[below] as number) * (1 - weight) + (sorted[above] as number) * weight;
}
