import type { Env, VectorEnv } from './env.js';
import { LocomotionEnv } from './locomotion/env.js';
import { LOCOMOTION_TASKS, locomotionTask, observationDim, type LocomotionTask } from './locomotion/tasks.js';
import { Maze2dEnv, type MazeRewardType } from './maze2d/env.js';
import { mazeLayout, type MazeLayout, type MazeName } from './maze2d/layouts.js';
import { referenceScores, type ReferenceScores } from './scores.js';
import { SyncVectorEnv } from './vector.js';

export interface MakeEnvOptions {
  /** seed for the first reset() that is given none (default 0) */
  seed?: number;
}

export interface MakeVectorEnvOptions {
  /** environment i gets seed + i (default 0) */
  seed?: number;
  /** see VectorEnv: manual reset (default) or auto reset */
  autoReset?: boolean;
}

export interface MazeTaskInfo {
  layout: MazeLayout;
  rewardType: MazeRewardType;
}

export interface EnvSpec {
  readonly id: string;
  readonly maxEpisodeSteps: number;
  readonly obsDim: number;
  readonly actionDim: number;
  readonly actionLow: readonly number[];
  readonly actionHigh: readonly number[];
  /** D4RL's REF_MIN_SCORE / REF_MAX_SCORE for this task */
  readonly referenceScores: ReferenceScores;
  /** present for Maze2D tasks (the scripted expert needs the maze) */
  readonly maze?: MazeTaskInfo;
  /** present for the locomotion tasks */
  readonly locomotion?: LocomotionTask;
  /** set on a D4RL dataset id that runs another registered task: hopper-medium-replay-v2 runs hopper-v4 */
  readonly aliasOf?: string;
  make(options: MakeEnvOptions): Promise<Env>;
}

const specs = new Map<string, EnvSpec>();

function registerMaze(id: string, maze: MazeName, rewardType: MazeRewardType, maxEpisodeSteps: number): void {
  const layout = mazeLayout(maze);
  specs.set(id, {
    id,
    maxEpisodeSteps,
    obsDim: 4,
    actionDim: 2,
    actionLow: [-1, -1],
    actionHigh: [1, 1],
    referenceScores: referenceScores(id),
    maze: { layout, rewardType },
    make: (options) => Maze2dEnv.create({ id, layout, rewardType, maxEpisodeSteps, ...(options.seed === undefined ? {} : { seed: options.seed }) }),
  });
}

// d4rl/pointmaze/__init__.py; there is no maze2d-open-v1.
for (const rewardType of ['sparse', 'dense'] as const) {
  const dense = rewardType === 'dense' ? '-dense' : '';
  registerMaze(`maze2d-open${dense}-v0`, 'open', rewardType, 150);
  registerMaze(`maze2d-umaze${dense}-v1`, 'umaze', rewardType, 300);
  registerMaze(`maze2d-medium${dense}-v1`, 'medium', rewardType, 600);
  registerMaze(`maze2d-large${dense}-v1`, 'large', rewardType, 800);
  registerMaze(`maze2d-eval-umaze${dense}-v1`, 'umaze-eval', rewardType, 300);
  registerMaze(`maze2d-eval-medium${dense}-v1`, 'medium-eval', rewardType, 600);
  registerMaze(`maze2d-eval-large${dense}-v1`, 'large-eval', rewardType, 800);
}

/** D4RL's locomotion dataset kinds; every one of them has the family's reference scores */
export const D4RL_LOCOMOTION_DATASETS = ['random', 'medium', 'medium-replay', 'medium-expert', 'expert', 'full-replay'] as const;

function registerLocomotion(task: LocomotionTask, id: string, aliasOf?: string): void {
  const actionLow = new Array<number>(task.actionDim).fill(-1);
  const actionHigh = new Array<number>(task.actionDim).fill(1);
  specs.set(id, {
    id,
    maxEpisodeSteps: task.maxEpisodeSteps,
    obsDim: observationDim(task),
    actionDim: task.actionDim,
    actionLow,
    actionHigh,
    // every dataset of a family shares the constants (d4rl/infos.py), so the medium entry stands for the task
    referenceScores: referenceScores(`${task.name}-medium-v2`),
    locomotion: task,
    ...(aliasOf === undefined ? {} : { aliasOf }),
    make: (options) => LocomotionEnv.create({ task, id, ...(options.seed === undefined ? {} : { seed: options.seed }) }),
  });
}

// Gymnasium v4 tasks, and D4RL's v2 dataset ids (collected on gym's v2 classes, same task definition)
// so that `--env hopper-medium-replay-v2` evaluates on hopper-v4 with that dataset's normalization.
for (const name of LOCOMOTION_TASKS) {
  const task = locomotionTask(name);
  registerLocomotion(task, task.envId);
  for (const kind of D4RL_LOCOMOTION_DATASETS) registerLocomotion(task, `${name}-${kind}-v2`, task.envId);
}

export function envIds(): string[] {
  return [...specs.keys()];
}

export function envSpec(id: string): EnvSpec {
  const spec = specs.get(id);
  if (spec === undefined) throw new RangeError(`unknown environment '${id}'; known: ${envIds().join(', ')}`);
  return spec;
}

export async function makeEnv(id: string, options: MakeEnvOptions = {}): Promise<Env> {
  return envSpec(id).make(options);
}

export async function makeVectorEnv(id: string, numEnvs: number, options: MakeVectorEnvOptions = {}): Promise<VectorEnv> {
  if (!Number.isInteger(numEnvs) || numEnvs < 1) throw new RangeError(`numEnvs must be a positive integer (got ${numEnvs})`);
  const spec = envSpec(id);
  const seed = options.seed ?? 0;
  const envs: Env[] = [];
  try {
    for (let i = 0; i < numEnvs; i++) envs.push(await spec.make({ seed: seed + i }));
  } catch (error) {
    for (const env of envs) env.close();
    throw error;
  }
  return new SyncVectorEnv(envs, options.autoReset === undefined ? {} : { autoReset: options.autoReset });
}
