/**
 * The trajectory store: every kept transition in columnar typed arrays plus episode offsets.
 * There are no per-step or per-episode objects; an episode is a [start, end) row range, and its
 * arrays are subarray views. Building a store from the flat transition arrays copies nothing but the
 * `truncated` flags.
 */
import type { TransitionArrays } from './arrays.js';

/** Episode limit the reference loaders (kzl DT, QT, Reinformer) apply when a file has no `timeouts` key. */
export const REFERENCE_FALLBACK_EPISODE_STEPS = 1000;

export interface SegmentationOptions {
  /** false when the file had no `timeouts` key: episodes then also close every `fallbackEpisodeSteps` steps */
  timeoutsPresent?: boolean;
  fallbackEpisodeSteps?: number;
}

export interface Segmentation {
  /** E+1 row offsets: episode e is rows [starts[e], starts[e+1]) */
  episodeStarts: Int32Array;
  /** rows after the last boundary, dropped as the reference loaders do */
  trailingDropped: number;
  /** rows where both terminal and timeout are set (kept, read as terminated) */
  terminalAndTimeout: number;
  firstTerminalAndTimeout: number;
  /** boundaries added by the fallback rule because the file has no timeouts */
  fallbackBoundaries: number;
}

/**
 * Spec 1.1: walk the rows in order, close the episode after row i when terminals[i] or
 * timeouts[i] is set (or, without a timeouts key, when it reaches the fallback length).
 */
export function segmentEpisodes(terminals: Uint8Array, timeouts: Uint8Array, options: SegmentationOptions = {}): Segmentation {
  const n = terminals.length;
  const fallback = options.timeoutsPresent === false ? (options.fallbackEpisodeSteps ?? REFERENCE_FALLBACK_EPISODE_STEPS) : Number.POSITIVE_INFINITY;
  const ends: number[] = [];
  let stepInEpisode = 0;
  let terminalAndTimeout = 0;
  let firstTerminalAndTimeout = -1;
  let fallbackBoundaries = 0;
  for (let i = 0; i < n; i++) {
    stepInEpisode++;
    const terminal = terminals[i] !== 0;
    const timeout = timeouts[i] !== 0;
    if (terminal && timeout) {
      if (firstTerminalAndTimeout < 0) firstTerminalAndTimeout = i;
      terminalAndTimeout++;
    }
    const byFallback = !terminal && !timeout && stepInEpisode >= fallback;
    if (terminal || timeout || byFallback) {
      if (byFallback) fallbackBoundaries++;
      ends.push(i + 1);
      stepInEpisode = 0;
    }
  }
  const episodeStarts = new Int32Array(ends.length + 1);
  for (let e = 0; e < ends.length; e++) episodeStarts[e + 1] = ends[e]!;
  const kept = ends.at(-1) ?? 0;
  return { episodeStarts, trailingDropped: n - kept, terminalAndTimeout, firstTerminalAndTimeout, fallbackBoundaries };
}

export interface InfoColumn {
  data: Float32Array;
  dim: number;
}

export class TrajectoryStore {
  /** [N, obsDim] */
  readonly observations: Float32Array;
  /** [N, actionDim] */
  readonly actions: Float32Array;
  readonly rewards: Float32Array;
  /** 1 where the episode ended in a true terminal state */
  readonly terminated: Uint8Array;
  /** 1 where the episode was cut by a time limit (never together with terminated) */
  readonly truncated: Uint8Array;
  readonly infos: Readonly<Record<string, InfoColumn>>;
  readonly episodeStarts: Int32Array;

  constructor(
    readonly obsDim: number,
    readonly actionDim: number,
    columns: {
      observations: Float32Array;
      actions: Float32Array;
      rewards: Float32Array;
      terminated: Uint8Array;
      truncated: Uint8Array;
      episodeStarts: Int32Array;
      infos?: Record<string, InfoColumn>;
    },
  ) {
    const n = columns.rewards.length;
    if (columns.observations.length !== n * obsDim || columns.actions.length !== n * actionDim || columns.terminated.length !== n || columns.truncated.length !== n) {
      throw new RangeError(`TrajectoryStore columns disagree: ${n} rewards, ${columns.observations.length / obsDim} observation rows, ${columns.actions.length / actionDim} action rows, ${columns.terminated.length} terminated, ${columns.truncated.length} truncated`);
    }
    if (columns.episodeStarts[0] !== 0 || columns.episodeStarts[columns.episodeStarts.length - 1] !== n) {
      throw new RangeError(`episodeStarts must run from 0 to ${n}`);
    }
    this.observations = columns.observations;
    this.actions = columns.actions;
    this.rewards = columns.rewards;
    this.terminated = columns.terminated;
    this.truncated = columns.truncated;
    this.episodeStarts = columns.episodeStarts;
    this.infos = columns.infos ?? {};
  }

  /**
   * Builds the store from the flat transition arrays without copying them: kept rows are always a prefix
   * (only trailing rows are dropped), so every column is a subarray view.
   */
  static fromArrays(arrays: TransitionArrays, segmentation: Segmentation): TrajectoryStore {
    const kept = segmentation.episodeStarts[segmentation.episodeStarts.length - 1]!;
    const terminated = arrays.terminals.subarray(0, kept);
    const truncated = new Uint8Array(kept);
    const starts = segmentation.episodeStarts;
    for (let e = 0; e + 1 < starts.length; e++) {
      const last = starts[e + 1]! - 1;
      // An episode that ends without a terminal ended by a time limit, a timeout row or the fallback rule.
      if (terminated[last] === 0) truncated[last] = 1;
    }
    const infos: Record<string, InfoColumn> = {};
    for (const [key, info] of Object.entries(arrays.infos ?? {})) infos[key] = { data: info.data.subarray(0, kept * info.dim), dim: info.dim };
    return new TrajectoryStore(arrays.obsDim, arrays.actionDim, {
      observations: arrays.observations.subarray(0, kept * arrays.obsDim),
      actions: arrays.actions.subarray(0, kept * arrays.actionDim),
      rewards: arrays.rewards.subarray(0, kept),
      terminated,
      truncated,
      episodeStarts: starts,
      infos,
    });
  }

  get episodeCount(): number {
    return this.episodeStarts.length - 1;
  }

  get transitionCount(): number {
    return this.rewards.length;
  }

  episodeStart(episode: number): number {
    return this.episodeStarts[episode]!;
  }

  episodeLength(episode: number): number {
    return this.episodeStarts[episode + 1]! - this.episodeStarts[episode]!;
  }

  /** Undiscounted return of every episode (summed in float64). */
  episodeReturns(rewards: Float32Array = this.rewards): Float64Array {
    const returns = new Float64Array(this.episodeCount);
    for (let e = 0; e < returns.length; e++) {
      let sum = 0;
      for (let i = this.episodeStarts[e]!; i < this.episodeStarts[e + 1]!; i++) sum += rewards[i]!;
      returns[e] = sum;
    }
    return returns;
  }

  /** The episode's observations as a view, [L, obsDim]. */
  episodeObservations(episode: number): Float32Array {
    return this.observations.subarray(this.episodeStart(episode) * this.obsDim, this.episodeStarts[episode + 1]! * this.obsDim);
  }

  episodeActions(episode: number): Float32Array {
    return this.actions.subarray(this.episodeStart(episode) * this.actionDim, this.episodeStarts[episode + 1]! * this.actionDim);
  }

  episodeRewards(episode: number): Float32Array {
    return this.rewards.subarray(this.episodeStart(episode), this.episodeStarts[episode + 1]!);
  }

  /** Back to flat transition arrays (views; terminals = terminated, timeouts = truncated). */
  toArrays(attributes?: Record<string, string | number>): TransitionArrays {
    const arrays: TransitionArrays = {
      observations: this.observations,
      actions: this.actions,
      rewards: this.rewards,
      terminals: this.terminated,
      timeouts: this.truncated,
      obsDim: this.obsDim,
      actionDim: this.actionDim,
    };
    if (Object.keys(this.infos).length > 0) arrays.infos = { ...this.infos };
    if (attributes !== undefined) arrays.attributes = attributes;
    return arrays;
  }
}
