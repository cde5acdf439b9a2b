/**
 * Offline evaluation: the held-out action error. How closely does a trained policy reproduce the
 * actions of a given set of trajectories (e.g. high-return trajectories held out from training)
 * when it reads their own history (teacher forcing) and is conditioned on their own returns-to-go?
 *
 * Windows are drawn exactly as training draws them (the algorithm's sampling rules on the policy's
 * dataset id, its context length, return scale and reward transform), from a sampler seeded by
 * `seed`, with the states normalized by the TRAINING data's statistics stored in the policy file
 * (not the held-out trajectories' own). Training-only sampler weights (RDT/RVDT `dup`) are not
 * applied: every held-out trajectory is drawn by its length alone. The score is the squared error
 * of `Algorithm.predictActions` (the tanh / Gaussian mean the action loss compares) against the
 * logged actions, averaged over the real positions of every window and the action dimensions;
 * padding positions carry no weight.
 */
import { DataFileError } from '../data/errors.js';
import { WindowSampler, type WindowBatch } from '../data/sampler.js';
import type { TrajectoryStore } from '../data/store.js';
import { Rng } from '../engine/rng.js';
import { findAlgorithm } from '../algos/registry.js';
import { restorePolicy } from '../deploy/node.js';
import { algorithmSamplerOptions } from './sampling.js';

export const DEFAULT_HELD_OUT_BATCHES = 50;

export interface HeldOutOptions {
  /** window batches scored (default 50) */
  batches?: number;
  /**
   * windows per batch (default: the algorithm config's batchSize; for epoch sampling, which puts
   * distinct trajectories in a batch, at most the number of held-out trajectories)
   */
  batchSize?: number;
  /** seeds the window draws (default 0) */
  seed?: number;
  /** names the trajectories in error messages, e.g. their file (default "the held-out trajectories") */
  datasetName?: string;
}

/** JSON-safe; `stitch eval RUN --dataset FILE --json` prints it with `dataset` and `policy` added. */
export interface HeldOutActionError {
  algo: string;
  /** training steps behind the weights */
  step: number;
  /** the policy's training dataset id, which selects the sampling rules */
  dataset_id: string;
  /** Σ mask·(â − a)² / (Σ mask · actionDim) over every scored window */
  action_mse: number;
  /** std of the per-batch MSEs / √batches; null with a single batch */
  standard_error: number | null;
  /** sample std (n − 1) of the per-batch MSEs; null with a single batch */
  batch_mse_std: number | null;
  /** real (unpadded) positions scored, counted with repetition (windows are drawn with replacement, as in training) */
  positions: number;
  /** windows scored: batches × batch_size */
  windows: number;
  batches: number;
  batch_size: number;
  /** K, the steps of history per window */
  context_length: number;
  seed: number;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`heldOutActionError: ${name} must be an integer >= 1 (got ${value})`);
  return value;
}

/** Σ mask·(â − a)² and Σ mask over a batch */
function maskedSquaredError(batch: WindowBatch, predicted: Float32Array): { squared: number; positions: number } {
  const { actionDim: A, mask, actions } = batch;
  let squared = 0;
  let positions = 0;
  for (let row = 0; row < mask.length; row++) {
    const m = mask[row] as number;
    if (m === 0) continue;
    positions += m;
    for (let d = 0; d < A; d++) squared += m * ((predicted[row * A + d] as number) - (actions[row * A + d] as number)) ** 2;
  }
  return { squared, positions };
}

/**
 * The held-out action error of the policy file at `policyPath` on the trajectories of `store`.
 * Throws SafetensorsError for an unusable policy file and DataFileError for trajectories the
 * policy cannot read (other dimensions, too few trajectories for the sampling rules, episodes
 * longer than the policy's timestep table).
 */
export function heldOutActionError(policyPath: string, store: TrajectoryStore, options: HeldOutOptions = {}): HeldOutActionError {
  const name = options.datasetName ?? 'the held-out trajectories';
  const batches = positiveInteger('batches', options.batches ?? DEFAULT_HELD_OUT_BATCHES);
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`heldOutActionError: seed must be an integer >= 0 (got ${seed})`);
  const { header, config, model: algorithm } = restorePolicy(policyPath);
  // the training definition (its sampling rules); restorePolicy already refused unknown algorithms
  const definition = findAlgorithm(header.algo);
  if (definition === undefined) throw new Error(`${policyPath}: unknown algorithm '${header.algo}'`);
  const { obsDim, actionDim, stateMean, stateStd } = header.context;
  if (store.obsDim !== obsDim || store.actionDim !== actionDim) {
    throw new DataFileError(name, `observations ${store.obsDim}-d and actions ${store.actionDim}-d, but the policy ${policyPath} reads ${obsDim}-d observations and ${actionDim}-d actions`);
  }
  if (store.episodeCount === 0) throw new DataFileError(name, 'no trajectories to score');
  const rules = algorithmSamplerOptions(definition, config, header.datasetId, store, {
    mean: Float32Array.from(stateMean), std: Float32Array.from(stateStd),
  });
  const batchSize = positiveInteger('batchSize', options.batchSize
    ?? (rules.trajectorySampling === 'epoch' ? Math.min(config.batchSize, store.episodeCount) : config.batchSize));
  let sampler: WindowSampler;
  try {
    sampler = new WindowSampler(store, { ...rules, batchSize }, new Rng(seed));
  } catch (error) {
    // the sampling rules refuse the data (epoch sampling with too few trajectories, QT's hopper-medium start rule on short ones)
    if (error instanceof RangeError) throw new DataFileError(name, `${definition.name}'s sampling rules cannot draw ${batchSize}-window batches here: ${error.message}`);
    throw error;
  }
  const timestepTable = typeof config.maxTimestep === 'number' ? config.maxTimestep : Number.POSITIVE_INFINITY;

  // restorePolicy leaves the algorithm in eval mode: no dropout, so the predictions are deterministic
  let squared = 0;
  let positions = 0;
  const batchMse: number[] = [];
  for (let i = 0; i < batches; i++) {
    const batch = sampler.sample();
    const longest = batch.timesteps.reduce((max, t) => Math.max(max, t), 0);
    if (longest >= timestepTable) {
      throw new DataFileError(name, `a window reaches timestep ${longest}, beyond the policy's timestep table of ${timestepTable} entries (its maxTimestep); the trajectories are longer than the policy can read`);
    }
    const predicted = algorithm.predictActions(batch);
    if (predicted.length !== batch.actions.length) {
      throw new Error(`${definition.name}.predictActions returned ${predicted.length} values for ${batch.actions.length} actions`);
    }
    const scored = maskedSquaredError(batch, predicted);
    squared += scored.squared;
    positions += scored.positions;
    // every window holds at least one real step, so a batch never scores zero positions
    batchMse.push(scored.squared / (scored.positions * actionDim));
  }
  let spread: number | null = null;
  if (batches > 1) {
    const mean = batchMse.reduce((total, value) => total + value, 0) / batches;
    spread = Math.sqrt(batchMse.reduce((total, value) => total + (value - mean) ** 2, 0) / (batches - 1));
  }
  return {
    algo: definition.name,
    step: header.step,
    dataset_id: header.datasetId,
    action_mse: squared / (positions * actionDim),
    standard_error: spread === null ? null : spread / Math.sqrt(batches),
    batch_mse_std: spread,
    positions,
    windows: batches * batchSize,
    batches,
    batch_size: batchSize,
    context_length: config.context,
    seed,
  };
}
