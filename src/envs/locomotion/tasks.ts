/**
 * The three Gymnasium v4 locomotion tasks D4RL's *-v2 datasets match (spec section 3): model,
 * frame skip, observation layout, reward weights, healthy range and reset noise. Every number here
 * is Gymnasium v4's default; D4RL's gym v2 classes have the same ones.
 */
import { halfCheetahXml, hopperXml, walker2dXml } from './models.js';

export const LOCOMOTION_TASKS = ['hopper', 'halfcheetah', 'walker2d'] as const;
export type LocomotionTaskName = (typeof LOCOMOTION_TASKS)[number];

export interface LocomotionTask {
  readonly name: LocomotionTaskName;
  /** the registered environment id, e.g. hopper-v4 */
  readonly envId: string;
  readonly xml: () => string;
  /** physics steps per env step */
  readonly frameSkip: number;
  /** the model's option timestep (also read back from the compiled model in the tests) */
  readonly timestep: number;
  readonly nq: number;
  readonly nv: number;
  readonly actionDim: number;
  /** observation = qpos[1:] then qvel clipped to ±velocityClip (Infinity: not clipped) */
  readonly velocityClip: number;
  /** weight of sum(action^2) in the control cost */
  readonly controlCostWeight: number;
  /**
   * Paid on every step, the terminating one included: v4's healthy_reward is paid "if healthy or
   * terminate_when_unhealthy", and the latter is on by default (v5 changed this). 0 for HalfCheetah.
   */
  readonly healthyReward: number;
  /** false ends the episode (terminated); HalfCheetah is always healthy */
  readonly isHealthy: (qpos: Float64Array, qvel: Float64Array) => boolean;
  /** qpos0 + U(-scale, scale); qvel + U(-scale, scale) ('uniform') or scale * N(0, 1) ('normal') */
  readonly resetNoise: { readonly scale: number; readonly velocity: 'uniform' | 'normal' };
  readonly maxEpisodeSteps: number;
}

/**
 * Hopper v4: healthy while every element of concat(qpos, qvel)[2:] lies strictly inside (-100, 100),
 * z = qpos[1] > 0.7 and |angle| = |qpos[2]| < 0.2. gym v2 also required the whole state to be finite;
 * NaN fails every comparison, so the check below covers that too.
 */
export function hopperIsHealthy(qpos: Float64Array, qvel: Float64Array): boolean {
  for (let i = 2; i < qpos.length; i++) if (!(Math.abs(qpos[i] as number) < 100)) return false;
  for (let i = 0; i < qvel.length; i++) if (!(Math.abs(qvel[i] as number) < 100)) return false;
  if (!Number.isFinite(qpos[0]) || !Number.isFinite(qpos[1])) return false;
  const z = qpos[1] as number;
  const angle = qpos[2] as number;
  return z > 0.7 && -0.2 < angle && angle < 0.2;
}

/** Walker2d v4: healthy while 0.8 < z < 2.0 and -1 < angle < 1 (strict). */
export function walker2dIsHealthy(qpos: Float64Array): boolean {
  const z = qpos[1] as number;
  const angle = qpos[2] as number;
  return z > 0.8 && z < 2.0 && angle > -1.0 && angle < 1.0;
}

const LOCOMOTION_EPISODE_STEPS = 1000;

const TASKS: Readonly<Record<LocomotionTaskName, LocomotionTask>> = {
  hopper: {
    name: 'hopper',
    envId: 'hopper-v4',
    xml: hopperXml,
    frameSkip: 4,
    timestep: 0.002,
    nq: 6,
    nv: 6,
    actionDim: 3,
    velocityClip: 10,
    controlCostWeight: 1e-3,
    healthyReward: 1,
    isHealthy: hopperIsHealthy,
    resetNoise: { scale: 5e-3, velocity: 'uniform' },
    maxEpisodeSteps: LOCOMOTION_EPISODE_STEPS,
  },
  walker2d: {
    name: 'walker2d',
    envId: 'walker2d-v4',
    xml: walker2dXml,
    frameSkip: 4,
    timestep: 0.002,
    nq: 9,
    nv: 9,
    actionDim: 6,
    velocityClip: 10,
    controlCostWeight: 1e-3,
    healthyReward: 1,
    isHealthy: walker2dIsHealthy,
    resetNoise: { scale: 5e-3, velocity: 'uniform' },
    maxEpisodeSteps: LOCOMOTION_EPISODE_STEPS,
  },
  halfcheetah: {
    name: 'halfcheetah',
    envId: 'halfcheetah-v4',
    xml: halfCheetahXml,
    frameSkip: 5,
    timestep: 0.01,
    nq: 9,
    nv: 9,
    actionDim: 6,
    velocityClip: Infinity,
    controlCostWeight: 0.1,
    healthyReward: 0,
    isHealthy: () => true,
    resetNoise: { scale: 0.1, velocity: 'normal' },
    maxEpisodeSteps: LOCOMOTION_EPISODE_STEPS,
  },
};

export function locomotionTask(name: LocomotionTaskName): LocomotionTask {
  return TASKS[name];
}

/** observation size: qpos without the x position, then qvel */
export function observationDim(task: LocomotionTask): number {
  return task.nq - 1 + task.nv;
}

/** env step duration, computed as Gymnasium does (model timestep times frame skip) */
export function envStepSeconds(task: LocomotionTask): number {
  return task.timestep * task.frameSkip;
}
