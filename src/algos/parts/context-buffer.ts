/**
 * What every sequence policy keeps while acting: the per-environment context window, the state
 * normalization it feeds the network, and the clamping of actions to the task's bounds.
 */
import type { PolicyContext } from '../algorithm.js';

/**
 * Per-environment histories for a causal sequence policy: the last K steps of normalized states,
 * actions, returns-to-go and timesteps of every environment, and a batch view over them.
 * `layout: 'left'` left-pads short histories with zeros and a mask (DT, QT inference);
 * `layout: 'right'` starts at slot 0 and reads at the current step's slot (Reinformer inference).
 */
export class ContextBuffer {
  readonly states: Float32Array;
  readonly actions: Float32Array;
  readonly returnsToGo: Float32Array;
  readonly timesteps: Int32Array;
  readonly mask: Float32Array;
  /** steps taken in each environment's episode */
  readonly stepCount: Int32Array;

  constructor(
    readonly numEnvs: number,
    readonly context: number,
    readonly obsDim: number,
    readonly actionDim: number,
    readonly layout: 'left' | 'right',
    private readonly maxTimestep: number,
  ) {
    const slots = numEnvs * context;
    this.states = new Float32Array(slots * obsDim);
    this.actions = new Float32Array(slots * actionDim);
    this.returnsToGo = new Float32Array(slots);
    this.timesteps = new Int32Array(slots);
    this.mask = new Float32Array(slots);
    this.stepCount = new Int32Array(numEnvs);
  }

  reset(env: number): void {
    const K = this.context;
    this.states.fill(0, env * K * this.obsDim, (env + 1) * K * this.obsDim);
    this.actions.fill(0, env * K * this.actionDim, (env + 1) * K * this.actionDim);
    this.returnsToGo.fill(0, env * K, (env + 1) * K);
    this.timesteps.fill(0, env * K, (env + 1) * K);
    this.mask.fill(0, env * K, (env + 1) * K);
    this.stepCount[env] = 0;
  }

  /** slot of the current step in env's window */
  currentSlot(env: number): number {
    const t = this.stepCount[env] as number;
    if (this.layout === 'left') return this.context - 1;
    return Math.min(t, this.context - 1);
  }

  /**
   * Start the current step: make room (shifting out the oldest step when the window is full) and
   * write the normalized state, the timestep and a placeholder zero action.
   */
  pushState(env: number, normalizedState: ArrayLike<number>, returnToGo: number): void {
    const K = this.context;
    const t = this.stepCount[env] as number;
    const full = this.layout === 'left' ? true : t >= K;
    if (full) this.shiftLeft(env);
    const slot = env * K + this.currentSlot(env);
    for (let d = 0; d < this.obsDim; d++) this.states[slot * this.obsDim + d] = normalizedState[d] as number;
    this.actions.fill(0, slot * this.actionDim, (slot + 1) * this.actionDim);
    this.returnsToGo[slot] = returnToGo;
    this.timesteps[slot] = Math.min(t, this.maxTimestep - 1);
    this.mask[slot] = 1;
  }

  setCurrentAction(env: number, action: ArrayLike<number>): void {
    const slot = env * this.context + this.currentSlot(env);
    for (let d = 0; d < this.actionDim; d++) this.actions[slot * this.actionDim + d] = action[d] as number;
  }

  setCurrentReturn(env: number, returnToGo: number): void {
    this.returnsToGo[env * this.context + this.currentSlot(env)] = returnToGo;
  }

  currentReturn(env: number): number {
    return this.returnsToGo[env * this.context + this.currentSlot(env)] as number;
  }

  /** finish the current step */
  advance(env: number): void {
    this.stepCount[env] = (this.stepCount[env] as number) + 1;
  }

  private shiftLeft(env: number): void {
    const K = this.context;
    const shift = <T extends Float32Array | Int32Array>(array: T, width: number): void => {
      array.copyWithin(env * K * width, (env * K + 1) * width, (env + 1) * K * width);
      array.fill(0, ((env + 1) * K - 1) * width, (env + 1) * K * width);
    };
    shift(this.states, this.obsDim);
    shift(this.actions, this.actionDim);
    shift(this.returnsToGo, 1);
    shift(this.timesteps, 1);
    shift(this.mask, 1);
  }
}

/** (s - mean) / std into out */
export function normalizeState(context: PolicyContext, observation: ArrayLike<number>, offset: number, out: Float32Array): Float32Array {
  for (let d = 0; d < context.obsDim; d++) {
    out[d] = ((observation[offset + d] as number) - (context.stateMean[d] as number)) / (context.stateStd[d] as number);
  }
  return out;
}

/** Writes `action` clamped to the task's bounds into `out` at `offset` (networks predict in [−1, 1]; bounds may be narrower). */
export function clampAction(context: PolicyContext, action: ArrayLike<number>, out: Float32Array, offset: number): void {
  for (let d = 0; d < context.actionDim; d++) {
    const low = context.actionLow[d] as number;
    const high = context.actionHigh[d] as number;
    out[offset + d] = Math.min(high, Math.max(low, action[d] as number));
  }
}
