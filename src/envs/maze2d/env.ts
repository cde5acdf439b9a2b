import { Rng } from '../../engine/rng.js';
import { boxSpace, checkAction, unboundedBox, type BoxSpace, type Env, type ResetResult, type StepResult } from '../env.js';
import { loadMujoco, MujocoSim } from '../mujoco.js';
import type { MazeLayout } from './layouts.js';
import { pointMazeXml } from './model.js';

export type MazeRewardType = 'sparse' | 'dense';

/** D4RL clips the velocity to this before every step (MazeEnv.clip_velocity). */
const VELOCITY_LIMIT = 5;
/** sparse reward radius around the goal */
export const GOAL_RADIUS = 0.5;

export function mazeReward(rewardType: MazeRewardType, x: number, y: number, targetX: number, targetY: number): number {
  const distance = Math.hypot(x - targetX, y - targetY);
  return rewardType === 'sparse' ? (distance <= GOAL_RADIUS ? 1 : 0) : Math.exp(-distance);
}

export interface Maze2dOptions {
  id: string;
  layout: MazeLayout;
  rewardType: MazeRewardType;
  maxEpisodeSteps: number;
  /** seed used by the first reset() when it is given none (default 0) */
  seed?: number;
}

/**
 * D4RL's MazeEnv: observation [x, y, vx, vy] = [qpos, qvel], action in [-1, 1]^2, one mj_step per
 * env step, reward scored on the observation after the step, never terminal, truncated at the
 * registered step limit. The target is the fixed G cell unless setTarget() moves it (the dataset
 * generator does; evaluation never does, as D4RL registers every task with reset_target=False).
 */
export class Maze2dEnv implements Env {
  readonly id: string;
  readonly observationSpace: BoxSpace = unboundedBox(4);
  readonly actionSpace: BoxSpace = boxSpace([-1, -1], [1, 1]);
  readonly maxEpisodeSteps: number;
  readonly layout: MazeLayout;
  readonly rewardType: MazeRewardType;
  private readonly target = new Float64Array(2);
  private readonly clippedAction = new Float64Array(2);
  private rng: Rng;
  private elapsedSteps = 0;
  private episodeOpen = false;

  private constructor(
    private readonly sim: MujocoSim,
    options: Maze2dOptions,
  ) {
    this.id = options.id;
    this.layout = options.layout;
    this.rewardType = options.rewardType;
    this.maxEpisodeSteps = options.maxEpisodeSteps;
    this.rng = new Rng(options.seed ?? 0);
    this.target.set(options.layout.goal);
  }

  static async create(options: Maze2dOptions): Promise<Maze2dEnv> {
    const sim = MujocoSim.fromXml(await loadMujoco(), pointMazeXml(options.layout));
    return new Maze2dEnv(sim, options);
  }

  get targetPosition(): Float64Array {
    return this.target.slice();
  }

  setTarget(x: number, y: number): void {
    this.target[0] = x;
    this.target[1] = y;
  }

  /** D4RL's set_target() with no argument: a uniformly drawn empty-or-goal cell plus U(-0.1, 0.1) per axis. */
  setRandomTarget(rng: Rng): void {
    const [row, col] = this.randomCell(rng);
    this.setTarget(row + uniformNoise(rng, 0.1), col + uniformNoise(rng, 0.1));
  }

  /** D4RL's set_state: places the ball (qpos [x, y], qvel [vx, vy]) without touching the episode clock. */
  setState(position: ArrayLike<number>, velocity: ArrayLike<number>): void {
    const qpos = this.sim.qpos;
    const qvel = this.sim.qvel;
    for (let i = 0; i < 2; i++) {
      qpos[i] = position[i] as number;
      qvel[i] = velocity[i] as number;
    }
  }

  reset(seed?: number): ResetResult {
    if (seed !== undefined) this.rng = new Rng(seed);
    this.sim.resetData();
    const [row, col] = this.randomCell(this.rng);
    const qpos = this.sim.qpos;
    const qvel = this.sim.qvel;
    qpos[0] = row + uniformNoise(this.rng, 0.1);
    qpos[1] = col + uniformNoise(this.rng, 0.1);
    qvel[0] = this.rng.normal() * 0.1;
    qvel[1] = this.rng.normal() * 0.1;
    this.elapsedSteps = 0;
    this.episodeOpen = true;
    return { observation: this.observe(), info: {} };
  }

  step(action: ArrayLike<number>): StepResult {
    if (!this.episodeOpen) {
      throw new Error(this.elapsedSteps === 0 ? `${this.id}: step() called before reset()` : `${this.id}: the episode has ended; call reset()`);
    }
    this.advance(checkAction(this.actionSpace, action, this.clippedAction));
    const observation = this.observe();
    const reward = mazeReward(this.rewardType, observation[0] as number, observation[1] as number, this.target[0] as number, this.target[1] as number);
    this.elapsedSteps++;
    const truncated = this.elapsedSteps >= this.maxEpisodeSteps;
    if (truncated) this.episodeOpen = false;
    return { observation, reward, terminated: false, truncated, info: { distanceToTarget: Math.hypot((observation[0] as number) - (this.target[0] as number), (observation[1] as number) - (this.target[1] as number)) } };
  }

  /**
   * One physics step with an already valid action, outside episode bookkeeping (the generator runs
   * one unbounded rollout). D4RL re-runs mj_forward after clipping the velocity; mj_step starts
   * with a full forward pass anyway, and skipping the extra one was checked to give bit-identical
   * trajectories.
   */
  advance(action: Float64Array): void {
    const qvel = this.sim.qvel;
    for (let i = 0; i < 2; i++) {
      const v = qvel[i] as number;
      if (v > VELOCITY_LIMIT) qvel[i] = VELOCITY_LIMIT;
      else if (v < -VELOCITY_LIMIT) qvel[i] = -VELOCITY_LIMIT;
    }
    const ctrl = this.sim.ctrl;
    ctrl[0] = action[0] as number;
    ctrl[1] = action[1] as number;
    this.sim.step();
  }

  /** [qpos, qvel] as a fresh array */
  observe(): Float64Array {
    const observation = new Float64Array(4);
    observation.set(this.sim.qpos, 0);
    observation.set(this.sim.qvel, 2);
    return observation;
  }

  close(): void {
    this.episodeOpen = false;
    this.sim.dispose();
  }

  private randomCell(rng: Rng): readonly [number, number] {
    const cells = this.layout.emptyAndGoalCells;
    return cells[rng.int(cells.length)] as readonly [number, number];
  }
}

function uniformNoise(rng: Rng, halfWidth: number): number {
  return (rng.uniform() * 2 - 1) * halfWidth;
}
