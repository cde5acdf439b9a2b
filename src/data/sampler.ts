/**
 * Window sampler (spec 1.4): draws B windows of K steps and writes them into one batch that is
 * allocated once and refilled by every call, so the training loop allocates nothing.
 *
 * Batch layout, all row-major: states [B, K, obsDim], actions [B, K, actionDim], and
 * rewards, returnsToGo, mask, terminated and timesteps [B, K]; episodes and starts [B].
 */
import type { Rng } from '../engine/rng.js';
import type { StateStatistics } from './preprocess.js';
import type { TrajectoryStore } from './store.js';

/** length-weighted: P(i) ∝ L_i, with replacement (DT, CORL, QT); uniform: P(i) = 1/E with replacement; epoch: every trajectory once per epoch, B distinct per batch (Reinformer). */
export type TrajectorySampling = 'length-weighted' | 'uniform' | 'epoch';
/** any: start in {0..L-1} (DT, CORL, QT); full-window: {0..L-K}, or 0 when L < K (Reinformer); qt-hopper-medium: {0..L-K-1} (QT on hopper-medium*) */
export type StartRule = 'any' | 'full-window' | 'qt-hopper-medium';

export interface SamplingRules {
  trajectorySampling: TrajectorySampling;
  startRule: StartRule;
  padding: 'left' | 'right';
  /** timestep of a padded slot: 0 (kzl, QT), or the count continued past the episode end (CORL, Reinformer) */
  paddedTimesteps: 'zero' | 'continue';
  /** pad states with 0 before normalization, so padded slots hold −mean/std (kzl, QT), or with 0 after it (CORL, Reinformer) */
  statePadding: 'raw-zero' | 'zero';
  /** kzl DT pads actions with −10, everyone else with 0 */
  actionPadValue: number;
  /** timesteps are clipped to maxEpisodeLength − 1 (kzl and QT use 1000); undefined: no clipping */
  maxEpisodeLength?: number;
}

export type SamplerMethod = 'dt' | 'qt' | 'reinformer';

/** The rules each reference implementation uses; QT switches its start rule on the dataset name. */
export function samplingRulesFor(method: SamplerMethod, datasetName = ''): SamplingRules {
  switch (method) {
    case 'dt':
      return { trajectorySampling: 'length-weighted', startRule: 'any', padding: 'left', paddedTimesteps: 'zero', statePadding: 'raw-zero', actionPadValue: -10, maxEpisodeLength: 1000 };
    case 'qt':
      return {
        trajectorySampling: 'length-weighted',
        // the reference tests the substring, so hopper-medium-replay and -expert are included
        startRule: datasetName.includes('hopper-medium') ? 'qt-hopper-medium' : 'any',
        padding: 'left',
        paddedTimesteps: 'zero',
        statePadding: 'raw-zero',
        actionPadValue: 0,
        maxEpisodeLength: 1000,
      };
    case 'reinformer':
      return { trajectorySampling: 'epoch', startRule: 'full-window', padding: 'right', paddedTimesteps: 'continue', statePadding: 'zero', actionPadValue: 0 };
  }
}

export interface WindowSamplerOptions extends SamplingRules {
  batchSize: number;
  contextLength: number;
  /** scaled returns-to-go per stored transition (preprocess.returnsToGo) */
  returnsToGo: Float32Array;
  /** rewards written into the batch (default: the stored rewards); pass transformed rewards here */
  rewards?: Float32Array;
  /** states are normalized with these when given */
  stateStatistics?: StateStatistics;
  /**
   * Per-episode factor on the draw probability, length-weighted sampling only: P(i) ∝ w_i·L_i
   * (RDT/RVDT `dup`: 1 + α for expert trajectories, which for integer α draws exactly as if each
   * were stored 1 + α times). Default: every w_i = 1, which leaves the draws unchanged.
   */
  episodeWeights?: Float64Array;
}

export interface WindowBatch {
  readonly batchSize: number;
  readonly contextLength: number;
  readonly obsDim: number;
  readonly actionDim: number;
  readonly states: Float32Array;
  readonly actions: Float32Array;
  readonly rewards: Float32Array;
  readonly returnsToGo: Float32Array;
  /** 1 for a real step, 0 for padding */
  readonly mask: Float32Array;
  /** 1 where the step ended its episode in a true terminal state */
  readonly terminated: Float32Array;
  readonly timesteps: Int32Array;
  /** episode index of each window (e.g. for RDT expert weights) */
  readonly episodes: Int32Array;
  /** first episode step of each window */
  readonly starts: Int32Array;
}

/** What a checkpoint keeps of a sampler beyond its Rng (see WindowSampler.state). */
export interface WindowSamplerState {
  epochPosition: number;
  epochOrder: number[];
}

export class WindowSampler {
  readonly batch: WindowBatch;
  /** running sum of each trajectory's draw weight (its length, times its episode weight) */
  private readonly cumulativeWeights: Float64Array;
  private readonly epochOrder: Int32Array;
  private epochPosition: number;
  private readonly offset: Float32Array;
  private readonly invStd: Float32Array;
  private readonly rewards: Float32Array;
  private readonly padState: Float32Array;

  constructor(
    private readonly store: TrajectoryStore,
    private readonly options: WindowSamplerOptions,
    private readonly rng: Rng,
  ) {
    const { batchSize: b, contextLength: k } = options;
    if (!Number.isInteger(b) || b < 1) throw new RangeError(`batchSize must be a positive integer (got ${b})`);
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`contextLength must be a positive integer (got ${k})`);
    const episodes = store.episodeCount;
    if (episodes === 0) throw new RangeError('cannot sample windows from a store without episodes');
    if (options.returnsToGo.length !== store.transitionCount) throw new RangeError(`returnsToGo has ${options.returnsToGo.length} values for ${store.transitionCount} transitions`);
    this.rewards = options.rewards ?? store.rewards;
    if (this.rewards.length !== store.transitionCount) throw new RangeError(`rewards have ${this.rewards.length} values for ${store.transitionCount} transitions`);
    if (options.trajectorySampling === 'epoch' && b > episodes) {
      throw new RangeError(`epoch sampling puts ${b} distinct trajectories in a batch but the store has only ${episodes}`);
    }
    if (options.startRule === 'qt-hopper-medium') {
      let tooShort = 0;
      let firstShort = -1;
      for (let e = 0; e < episodes; e++) {
        if (store.episodeLength(e) <= k) {
          if (firstShort < 0) firstShort = e;
          tooShort++;
        }
      }
      if (tooShort > 0) {
        throw new RangeError(
          `the QT hopper-medium start rule draws starts in {0..L-K-1} and needs every trajectory longer than K = ${k}; ${tooShort} are not (first: episode ${firstShort}, length ${store.episodeLength(firstShort)}). The reference would crash here too`,
        );
      }
    }

    const { episodeWeights } = options;
    if (episodeWeights !== undefined) {
      if (options.trajectorySampling !== 'length-weighted') throw new RangeError(`episodeWeights apply to length-weighted sampling only (got ${options.trajectorySampling})`);
      if (episodeWeights.length !== episodes) throw new RangeError(`episodeWeights has ${episodeWeights.length} values for ${episodes} episodes`);
      const bad = episodeWeights.findIndex((w) => !(Number.isFinite(w) && w >= 0));
      if (bad >= 0) throw new RangeError(`episodeWeights[${bad}] must be a finite number >= 0 (got ${episodeWeights[bad]})`);
    }
    this.cumulativeWeights = new Float64Array(episodes);
    let total = 0;
    for (let e = 0; e < episodes; e++) {
      total += store.episodeLength(e) * (episodeWeights?.[e] ?? 1);
      this.cumulativeWeights[e] = total;
    }
    if (!(total > 0)) throw new RangeError('episodeWeights give every episode zero weight');
    this.epochOrder = Int32Array.from({ length: episodes }, (_, e) => e);
    this.epochPosition = episodes; // forces a shuffle before the first batch

    const dim = store.obsDim;
    this.offset = new Float32Array(dim);
    this.invStd = new Float32Array(dim).fill(1);
    if (options.stateStatistics !== undefined) {
      const { mean, std } = options.stateStatistics;
      if (mean.length !== dim || std.length !== dim) throw new RangeError(`state statistics have ${mean.length} dimensions, observations ${dim}`);
      this.offset.set(mean);
      for (let d = 0; d < dim; d++) this.invStd[d] = 1 / std[d]!;
    }
    this.padState = new Float32Array(dim);
    if (options.statePadding === 'raw-zero') for (let d = 0; d < dim; d++) this.padState[d] = (0 - this.offset[d]!) * this.invStd[d]!;

    this.batch = {
      batchSize: b,
      contextLength: k,
      obsDim: dim,
      actionDim: store.actionDim,
      states: new Float32Array(b * k * dim),
      actions: new Float32Array(b * k * store.actionDim),
      rewards: new Float32Array(b * k),
      returnsToGo: new Float32Array(b * k),
      mask: new Float32Array(b * k),
      terminated: new Float32Array(b * k),
      timesteps: new Int32Array(b * k),
      episodes: new Int32Array(b),
      starts: new Int32Array(b),
    };
  }

  /**
   * The epoch sampler's position and permutation, JSON-safe, for checkpoints. The random stream
   * is the caller's Rng and is saved with it; the other rules keep no state of their own.
   */
  state(): WindowSamplerState {
    return { epochPosition: this.epochPosition, epochOrder: Array.from(this.epochOrder) };
  }

  /** Continue from a saved state (resume); the store must be the one the state was taken from. */
  restore(state: WindowSamplerState): void {
    const episodes = this.cumulativeWeights.length;
    const seen = new Uint8Array(episodes);
    const isPermutation = state.epochOrder.length === episodes && state.epochOrder.every((e) => {
      if (!Number.isInteger(e) || e < 0 || e >= episodes || seen[e] === 1) return false;
      seen[e] = 1;
      return true;
    });
    if (!isPermutation) throw new RangeError(`sampler state: epochOrder is not a permutation of the store's ${episodes} episodes`);
    if (!Number.isInteger(state.epochPosition) || state.epochPosition < 0 || state.epochPosition > episodes) {
      throw new RangeError(`sampler state: epochPosition ${state.epochPosition} is outside [0, ${episodes}]`);
    }
    this.epochOrder.set(state.epochOrder);
    this.epochPosition = state.epochPosition;
  }

  /** Refills `this.batch` with B new windows and returns it (the same object every call). */
  sample(): WindowBatch {
    const { batchSize } = this.options;
    const episodes = this.cumulativeWeights.length;
    // DataLoader(shuffle=True, drop_last=True): a fresh permutation whenever fewer than B remain.
    if (this.options.trajectorySampling === 'epoch' && this.epochPosition + batchSize > episodes) {
      for (let i = episodes - 1; i > 0; i--) {
        const j = this.rng.int(i + 1);
        const swap = this.epochOrder[i]!;
        this.epochOrder[i] = this.epochOrder[j]!;
        this.epochOrder[j] = swap;
      }
      this.epochPosition = 0;
    }
    for (let b = 0; b < batchSize; b++) {
      const episode = this.nextEpisode();
      this.fillWindow(b, episode, this.drawStart(episode));
    }
    return this.batch;
  }

  private nextEpisode(): number {
    const episodes = this.cumulativeWeights.length;
    switch (this.options.trajectorySampling) {
      case 'uniform':
        return this.rng.int(episodes);
      case 'length-weighted': {
        const target = this.rng.uniform() * this.cumulativeWeights[episodes - 1]!;
        let low = 0;
        let high = episodes - 1;
        while (low < high) {
          const middle = (low + high) >>> 1;
          if (this.cumulativeWeights[middle]! > target) high = middle;
          else low = middle + 1;
        }
        return low;
      }
      case 'epoch':
        return this.epochOrder[this.epochPosition++]!;
    }
  }

  private drawStart(episode: number): number {
    const length = this.store.episodeLength(episode);
    const k = this.options.contextLength;
    switch (this.options.startRule) {
      case 'any':
        return this.rng.int(length);
      case 'full-window':
        return length >= k ? this.rng.int(length - k + 1) : 0;
      case 'qt-hopper-medium':
        return this.rng.int(length - k);
    }
  }

  private fillWindow(b: number, episode: number, start: number): void {
    const { store, batch, options } = this;
    const k = options.contextLength;
    const dim = store.obsDim;
    const actionDim = store.actionDim;
    const first = store.episodeStart(episode) + start;
    const real = Math.min(k, store.episodeLength(episode) - start);
    const lead = options.padding === 'left' ? k - real : 0;
    const clip = options.maxEpisodeLength === undefined ? Number.POSITIVE_INFINITY : options.maxEpisodeLength - 1;
    batch.episodes[b] = episode;
    batch.starts[b] = start;
    const base = b * k;
    // Padding slots first, then one contiguous copy of the real rows (no per-slot branches).
    for (let slot = 0; slot < k; slot++) {
      const step = slot - lead;
      if (step >= 0 && step < real) continue;
      const position = base + slot;
      batch.states.set(this.padState, position * dim);
      batch.actions.fill(options.actionPadValue, position * actionDim, (position + 1) * actionDim);
      batch.rewards[position] = 0;
      batch.returnsToGo[position] = 0;
      batch.mask[position] = 0;
      batch.terminated[position] = 0;
      batch.timesteps[position] = options.paddedTimesteps === 'continue' && step >= 0 ? Math.min(start + step, clip) : 0;
    }
    const firstPosition = base + lead;
    const { observations, actions, terminated } = store;
    const { states } = batch;
    const offset = this.offset;
    const invStd = this.invStd;
    for (let step = 0, source = first * dim, target = firstPosition * dim; step < real; step++) {
      for (let d = 0; d < dim; d++, source++, target++) states[target] = (observations[source]! - offset[d]!) * invStd[d]!;
    }
    for (let i = 0, source = first * actionDim, target = firstPosition * actionDim, count = real * actionDim; i < count; i++) batch.actions[target + i] = actions[source + i]!;
    const rtg = options.returnsToGo;
    const rewards = this.rewards;
    for (let step = 0; step < real; step++) {
      const row = first + step;
      const position = firstPosition + step;
      batch.rewards[position] = rewards[row]!;
      batch.returnsToGo[position] = rtg[row]!;
      batch.mask[position] = 1;
      batch.terminated[position] = terminated[row]!;
      batch.timesteps[position] = Math.min(start + step, clip);
    }
  }
}
