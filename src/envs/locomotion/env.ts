import { Rng } from '../../engine/rng.js';
import { boxSpace, checkAction, unboundedBox, type BoxSpace, type Env, type ResetResult, type StepResult } from '../env.js';
import { loadMujoco, MujocoSim } from '../mujoco.js';
import { envStepSeconds, observationDim, type LocomotionTask } from './tasks.js';

export interface LocomotionEnvOptions {
  task: LocomotionTask;
  /** defaults to the task's env id; D4RL dataset ids (hopper-medium-v2) run under their own name */
  id?: string;
  /** seed used by the first reset() when it is given none (default 0) */
  seed?: number;
}

/** The terms of one step's reward; reward = forward + survive - control (in that order, as Gymnasium sums them). */
export interface LocomotionRewardTerms {
  /** x velocity of the root over the step: (x_after - x_before) / dt */
  forward: number;
  /** controlCostWeight * sum(action^2), on the clipped action */
  control: number;
  /** the healthy bonus (0 for HalfCheetah) */
  survive: number;
  reward: number;
}

export function locomotionReward(task: LocomotionTask, xBefore: number, xAfter: number, action: ArrayLike<number>): LocomotionRewardTerms {
  const forward = (xAfter - xBefore) / envStepSeconds(task);
  let squares = 0;
  for (let i = 0; i < action.length; i++) squares += (action[i] as number) ** 2;
  const control = task.controlCostWeight * squares;
  const survive = task.healthyReward;
  return { forward, control, survive, reward: forward + survive - control };
}

/** obs = qpos[1:] followed by qvel, clipped to ±velocityClip (Hopper, Walker2d) or not (HalfCheetah) */
export function locomotionObservation(task: LocomotionTask, qpos: ArrayLike<number>, qvel: ArrayLike<number>): Float64Array {
  const observation = new Float64Array(observationDim(task));
  for (let i = 1; i < task.nq; i++) observation[i - 1] = qpos[i] as number;
  const limit = task.velocityClip;
  for (let i = 0; i < task.nv; i++) {
    const v = qvel[i] as number;
    observation[task.nq - 1 + i] = v > limit ? limit : v < -limit ? -limit : v;
  }
  return observation;
}

/**
 * Gymnasium v4's Hopper / Walker2d / HalfCheetah on MuJoCo WebAssembly. One step writes the
 * clipped action to ctrl and runs frameSkip mj_steps; the reward is forward velocity + healthy
 * bonus - control cost; an unhealthy state terminates; the episode is truncated at 1000 steps.
 *
 * Gymnasium passes the raw action to MuJoCo (which clamps ctrl to ctrlrange) and charges the control
 * cost on the raw action; D4RL's NormalizedBoxEnv clipped to [-1, 1] first. Here the action is
 * clipped, as in D4RL, so both the physics and the cost see the same value.
 */
export class LocomotionEnv implements Env {
  readonly id: string;
  readonly task: LocomotionTask;
  readonly observationSpace: BoxSpace;
  readonly actionSpace: BoxSpace;
  readonly maxEpisodeSteps: number;
  private readonly clippedAction: Float64Array;
  private readonly initialQpos: Float64Array;
  private readonly initialQvel: Float64Array;
  private rng: Rng;
  private elapsedSteps = 0;
  private episodeOpen = false;

  private constructor(
    private readonly sim: MujocoSim,
    options: LocomotionEnvOptions,
  ) {
    const { task } = options;
    if (sim.nq !== task.nq || sim.nv !== task.nv || sim.nu !== task.actionDim) {
      throw new Error(`${task.name} model has nq ${sim.nq}, nv ${sim.nv}, nu ${sim.nu}; expected ${task.nq}, ${task.nv}, ${task.actionDim}`);
    }
    this.task = task;
    this.id = options.id ?? task.envId;
    this.observationSpace = unboundedBox(observationDim(task));
    this.actionSpace = boxSpace(new Float64Array(task.actionDim).fill(-1), new Float64Array(task.actionDim).fill(1));
    this.maxEpisodeSteps = task.maxEpisodeSteps;
    this.clippedAction = new Float64Array(task.actionDim);
    this.rng = new Rng(options.seed ?? 0);
    // qpos0 (rootz's ref puts the torso height there) and the zero velocity of a freshly reset MjData
    sim.resetData();
    this.initialQpos = sim.qpos.slice();
    this.initialQvel = sim.qvel.slice();
  }

  static async create(options: LocomotionEnvOptions): Promise<LocomotionEnv> {
    const sim = MujocoSim.fromXml(await loadMujoco(), options.task.xml());
    try {
      return new LocomotionEnv(sim, options);
    } catch (error) {
      sim.dispose();
      throw error;
    }
  }

  /** the model's qpos0 */
  get initialPosition(): Float64Array {
    return this.initialQpos.slice();
  }

  reset(seed?: number): ResetResult {
    if (seed !== undefined) this.rng = new Rng(seed);
    this.sim.resetData();
    const { scale, velocity } = this.task.resetNoise;
    const qpos = this.sim.qpos;
    const qvel = this.sim.qvel;
    for (let i = 0; i < this.task.nq; i++) qpos[i] = (this.initialQpos[i] as number) + uniformNoise(this.rng, scale);
    for (let i = 0; i < this.task.nv; i++) {
      const noise = velocity === 'uniform' ? uniformNoise(this.rng, scale) : scale * this.rng.normal();
      qvel[i] = (this.initialQvel[i] as number) + noise;
    }
    this.elapsedSteps = 0;
    this.episodeOpen = true;
    return { observation: this.observe(), info: { x_position: qpos[0] as number } };
  }

  step(action: ArrayLike<number>): StepResult {
    if (!this.episodeOpen) {
      throw new Error(this.elapsedSteps === 0 ? `${this.id}: step() called before reset()` : `${this.id}: the episode has ended; call reset()`);
    }
    const clipped = checkAction(this.actionSpace, action, this.clippedAction);
    const xBefore = this.sim.qpos[0] as number;
    this.sim.ctrl.set(clipped);
    for (let k = 0; k < this.task.frameSkip; k++) this.sim.step();
    const qpos = this.sim.qpos;
    const qvel = this.sim.qvel;
    const xAfter = qpos[0] as number;
    const terms = locomotionReward(this.task, xBefore, xAfter, clipped);
    const terminated = !this.task.isHealthy(qpos, qvel);
    this.elapsedSteps++;
    const truncated = !terminated && this.elapsedSteps >= this.maxEpisodeSteps;
    if (terminated || truncated) this.episodeOpen = false;
    return {
      observation: this.observe(),
      reward: terms.reward,
      terminated,
      truncated,
      info: {
        x_position: xAfter,
        x_velocity: terms.forward,
        reward_forward: terms.forward,
        reward_ctrl: -terms.control,
        reward_survive: terms.survive,
      },
    };
  }

  /** Gymnasium's set_state: places the model in (qpos, qvel) without touching the episode clock. */
  setState(qpos: ArrayLike<number>, qvel: ArrayLike<number>): void {
    if (qpos.length !== this.task.nq || qvel.length !== this.task.nv) {
      throw new RangeError(`${this.id}: setState needs qpos of ${this.task.nq} and qvel of ${this.task.nv} numbers, got ${qpos.length} and ${qvel.length}`);
    }
    this.sim.qpos.set(qpos);
    this.sim.qvel.set(qvel);
  }

  /** copies of the simulator's qpos and qvel (the dataset generator stores them as infos/qpos, infos/qvel) */
  state(): { qpos: Float64Array; qvel: Float64Array } {
    return { qpos: this.sim.qpos.slice(), qvel: this.sim.qvel.slice() };
  }

  observe(): Float64Array {
    return locomotionObservation(this.task, this.sim.qpos, this.sim.qvel);
  }

  close(): void {
    this.episodeOpen = false;
    this.sim.dispose();
  }
}

function uniformNoise(rng: Rng, halfWidth: number): number {
  return (rng.uniform() * 2 - 1) * halfWidth;
}
