/**
 * The environment interface, in the spirit of Gymnasium.
 *
 * Observations are Float64Array: that is the simulator's own precision (MuJoCo state is double),
 * rewards are computed from it exactly as the reference environments do, and datasets convert to
 * float32 on the way out (D4RL files store float32). Actions are accepted as any numeric array;
 * the vectorized form takes one Float32Array [n, actionDim] because that is what a batched policy
 * produces.
 */

/** A box in R^shape, bounds per component (±Infinity for unbounded). */
export interface BoxSpace {
  readonly kind: 'box';
  readonly shape: readonly number[];
  readonly low: Float64Array;
  readonly high: Float64Array;
}

export function boxSpace(low: ArrayLike<number>, high: ArrayLike<number>): BoxSpace {
  if (low.length !== high.length) throw new RangeError(`boxSpace: low has ${low.length} components, high has ${high.length}`);
  return { kind: 'box', shape: [low.length], low: Float64Array.from(low), high: Float64Array.from(high) };
}

export function unboundedBox(dim: number): BoxSpace {
  return boxSpace(new Float64Array(dim).fill(-Infinity), new Float64Array(dim).fill(Infinity));
}

export function spaceSize(space: BoxSpace): number {
  return space.shape.reduce((a, b) => a * b, 1);
}

export type EnvInfo = Readonly<Record<string, number | boolean>>;

export interface ResetResult {
  observation: Float64Array;
  info: EnvInfo;
}

export interface StepResult {
  /** a fresh array owned by the caller */
  observation: Float64Array;
  reward: number;
  /** the task reached a terminal state (never, for Maze2D: D4RL's Maze2D has no terminal states) */
  terminated: boolean;
  /** the episode hit its step limit */
  truncated: boolean;
  info: EnvInfo;
}

export interface Env {
  readonly id: string;
  readonly observationSpace: BoxSpace;
  readonly actionSpace: BoxSpace;
  readonly maxEpisodeSteps: number;
  /**
   * Starts an episode. With a seed, the environment's random stream restarts from that seed; without
   * one it continues (an environment that was never seeded starts from seed 0, so runs are
   * reproducible by default).
   */
  reset(seed?: number): ResetResult;
  /**
   * Advances one step. Throws a RangeError for an action of the wrong length or with a non-finite
   * component, and an Error when called before reset() or after the episode ended.
   */
  step(action: ArrayLike<number>): StepResult;
  /** Frees the simulator objects; the environment cannot be used afterwards. */
  close(): void;
}

/**
 * Checks an action's length and finiteness; returns the components clipped to the space.
 * Non-finite values are rejected rather than clipped because they always signal a bug upstream.
 */
export function checkAction(space: BoxSpace, action: ArrayLike<number>, out: Float64Array): Float64Array {
  const dim = spaceSize(space);
  if (action.length !== dim) throw new RangeError(`action must have ${dim} components, got ${action.length}`);
  for (let i = 0; i < dim; i++) {
    const value = action[i] as number;
    if (!Number.isFinite(value)) throw new RangeError(`action component ${i} is ${value}; actions must be finite numbers`);
    const low = space.low[i] as number;
    const high = space.high[i] as number;
    out[i] = value < low ? low : value > high ? high : value;
  }
  return out;
}

/** Per-environment results of one vectorized step; row i belongs to environment i. */
export interface VectorStepResult {
  /** [n, obsDim]; for an environment that was auto-reset this is its new episode's first observation */
  observations: Float64Array;
  rewards: Float64Array;
  terminated: Uint8Array;
  truncated: Uint8Array;
  /** 1 where the environment actually stepped (in manual-reset mode finished environments are skipped) */
  active: Uint8Array;
  /** auto-reset mode only: [n, obsDim], the last observation of episodes that ended in this step */
  finalObservations: Float64Array | null;
}

/**
 * N environments stepped together with one batched action array.
 *
 * Two modes, chosen at construction:
 * - manual reset (default): an environment whose episode ended stays done — it is skipped by
 *   step() (reward 0, active 0, observation row unchanged) until resetEnv(i) starts a new episode.
 *   Evaluation uses this to run exactly the requested number of episodes.
 * - auto reset: an environment whose episode ended is reset in the same step; its last observation
 *   is reported in finalObservations and its row holds the new episode's first observation.
 */
export interface VectorEnv {
  readonly id: string;
  readonly numEnvs: number;
  /** spaces of one environment */
  readonly observationSpace: BoxSpace;
  readonly actionSpace: BoxSpace;
  readonly maxEpisodeSteps: number;
  readonly autoReset: boolean;
  /** 1 where an environment's episode has ended and it awaits resetEnv (manual-reset mode) */
  readonly done: Uint8Array;
  /** Resets every environment; environment i is seeded with seed + i when a seed is given. Returns [n, obsDim]. */
  reset(seed?: number): Float64Array;
  /** Resets one environment; returns its first observation. */
  resetEnv(index: number, seed?: number): Float64Array;
  step(actions: Float32Array): VectorStepResult;
  close(): void;
}
