import { spaceSize, type BoxSpace, type Env, type VectorEnv, type VectorStepResult } from './env.js';

/**
 * Steps N single environments in turn. The simulator is single-threaded WebAssembly, so there is
 * nothing to gain from threads here; what matters is that the policy sees one batch per step.
 */
export class SyncVectorEnv implements VectorEnv {
  readonly id: string;
  readonly numEnvs: number;
  readonly observationSpace: BoxSpace;
  readonly actionSpace: BoxSpace;
  readonly maxEpisodeSteps: number;
  readonly autoReset: boolean;
  readonly done: Uint8Array;
  private readonly obsDim: number;
  private readonly actionDim: number;
  private readonly observations: Float64Array;
  private started = false;
  private closed = false;

  constructor(private readonly envs: readonly Env[], options: { autoReset?: boolean } = {}) {
    const first = envs[0];
    if (first === undefined) throw new RangeError('SyncVectorEnv needs at least one environment');
    this.id = first.id;
    this.numEnvs = envs.length;
    this.observationSpace = first.observationSpace;
    this.actionSpace = first.actionSpace;
    this.maxEpisodeSteps = first.maxEpisodeSteps;
    this.autoReset = options.autoReset ?? false;
    this.obsDim = spaceSize(first.observationSpace);
    this.actionDim = spaceSize(first.actionSpace);
    this.observations = new Float64Array(this.numEnvs * this.obsDim);
    this.done = new Uint8Array(this.numEnvs);
  }

  reset(seed?: number): Float64Array {
    for (let i = 0; i < this.numEnvs; i++) this.resetEnv(i, seed === undefined ? undefined : seed + i);
    this.started = true;
    return this.observations.slice();
  }

  resetEnv(index: number, seed?: number): Float64Array {
    this.checkOpen();
    const env = this.envs[index];
    if (env === undefined) throw new RangeError(`environment index ${index} is outside [0, ${this.numEnvs})`);
    const { observation } = env.reset(seed);
    this.observations.set(observation, index * this.obsDim);
    this.done[index] = 0;
    this.started = true;
    return observation;
  }

  step(actions: Float32Array): VectorStepResult {
    this.checkOpen();
    if (!this.started) throw new Error('VectorEnv.step called before reset()');
    const expected = this.numEnvs * this.actionDim;
    if (actions.length !== expected) {
      throw new RangeError(`actions must be [${this.numEnvs}, ${this.actionDim}] = ${expected} numbers, got ${actions.length}`);
    }
    const rewards = new Float64Array(this.numEnvs);
    const terminated = new Uint8Array(this.numEnvs);
    const truncated = new Uint8Array(this.numEnvs);
    const active = new Uint8Array(this.numEnvs);
    const finalObservations = this.autoReset ? new Float64Array(this.numEnvs * this.obsDim) : null;
    for (let i = 0; i < this.numEnvs; i++) {
      if (this.done[i] === 1) continue;
      const env = this.envs[i] as Env;
      const result = env.step(actions.subarray(i * this.actionDim, (i + 1) * this.actionDim));
      active[i] = 1;
      rewards[i] = result.reward;
      terminated[i] = result.terminated ? 1 : 0;
      truncated[i] = result.truncated ? 1 : 0;
      this.observations.set(result.observation, i * this.obsDim);
      if (result.terminated || result.truncated) {
        if (finalObservations !== null) {
          finalObservations.set(result.observation, i * this.obsDim);
          this.observations.set(env.reset().observation, i * this.obsDim);
        } else {
          this.done[i] = 1;
        }
      }
    }
    return { observations: this.observations.slice(), rewards, terminated, truncated, active, finalObservations };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const env of this.envs) env.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('VectorEnv used after close()');
  }
}
