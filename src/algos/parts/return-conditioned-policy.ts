/**
 * Acting towards a target return (DT; RDT without a critic): start from R_0 = target / scale;
 * after each step R_{t+1} = R_t − r_t / scale; keep the last K steps, left-padded, and execute the
 * prediction at the newest state token. One batched forward per step over every active environment.
 */
import { noGrad, tidy, type Tensor } from '../../engine/index.js';
import type { TransformerInput } from '../../nn/transformer.js';
import type { PolicyContext, SequencePolicy } from '../algorithm.js';
import { clampAction, ContextBuffer, normalizeState } from './context-buffer.js';

/** The settings acting reads: the window length, the timestep table's size and the return scale. */
export interface ReturnConditionedSettings {
  context: number;
  maxTimestep: number;
  returnScale: number;
}

export class ReturnConditionedPolicy implements SequencePolicy {
  private readonly buffer: ContextBuffer;
  private readonly scratchState: Float32Array;
  /** R_{t+1} = R_t - r_t / scale, waiting for the next state */
  private readonly nextReturn: Float64Array;

  constructor(
    /** predicted actions [B, K, A] for the windows (DT's network, a QT-family actor) */
    private readonly model: { forward(batch: TransformerInput): Tensor },
    private readonly settings: ReturnConditionedSettings,
    private readonly context: PolicyContext,
    readonly numEnvs: number,
    private readonly targetReturn: number,
  ) {
    this.buffer = new ContextBuffer(numEnvs, settings.context, context.obsDim, context.actionDim, 'left', settings.maxTimestep);
    this.scratchState = new Float32Array(context.obsDim);
    this.nextReturn = new Float64Array(numEnvs);
  }

  beginEpisode(envIndex: number): void {
    this.buffer.reset(envIndex);
  }

  act(observations: Float64Array, active: Uint8Array, actions: Float32Array): void {
    const { obsDim, actionDim } = this.context;
    const buffer = this.buffer;
    for (let i = 0; i < this.numEnvs; i++) {
      if (active[i] !== 1) continue;
      const returnToGo = buffer.stepCount[i] === 0 ? this.targetReturn / this.settings.returnScale : (this.nextReturn[i] as number);
      buffer.pushState(i, normalizeState(this.context, observations, i * obsDim, this.scratchState), returnToGo);
    }
    const K = this.settings.context;
    tidy(() => {
      const predicted = noGrad(() => this.model.forward({
        batchSize: this.numEnvs, states: buffer.states, actions: buffer.actions,
        returnsToGo: buffer.returnsToGo, timesteps: buffer.timesteps, mask: buffer.mask,
      }));
      for (let i = 0; i < this.numEnvs; i++) {
        if (active[i] !== 1) continue;
        const row = predicted.data.subarray((i * K + K - 1) * actionDim, (i * K + K) * actionDim);
        clampAction(this.context, row, actions, i * actionDim);
        buffer.setCurrentAction(i, row);
      }
    });
  }

  observeRewards(rewards: Float64Array, active: Uint8Array): void {
    for (let i = 0; i < this.numEnvs; i++) {
      if (active[i] !== 1) continue;
      this.nextReturn[i] = this.buffer.currentReturn(i) - (rewards[i] as number) / this.settings.returnScale;
      this.buffer.advance(i);
    }
  }
}
