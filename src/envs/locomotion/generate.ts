import { Rng } from '../../engine/rng.js';
import type { GeneratedDataset } from '../maze2d/generate.js';
import { mujocoVersion } from '../mujoco.js';
import { LocomotionEnv } from './env.js';
import { locomotionTask, observationDim, type LocomotionTask, type LocomotionTaskName } from './tasks.js';

/** D4RL's locomotion v2 layout: the common keys plus next_observations. */
export interface LocomotionDataset extends GeneratedDataset {
  nextObservations: Float32Array;
}

/** What `stitch data make` needs for one locomotion dataset. */
export interface LocomotionDatasetRecipe {
  /** e.g. hopper-random-v4 */
  datasetId: string;
  task: LocomotionTask;
}

/**
 * Accepts hopper-random, hopper-random-v4 and the same for halfcheetah and walker2d. These are
 * uniform-random-action datasets on Stitch's v4 tasks, not D4RL's hopper-random-v2 (collected with a
 * randomly initialised SAC policy), hence the v4 suffix. Returns undefined for anything else.
 */
export function resolveLocomotionDataset(name: string): LocomotionDatasetRecipe | undefined {
  const match = /^(hopper|halfcheetah|walker2d)-random(?:-v4)?$/.exec(name);
  if (match === null) return undefined;
  const taskName = match[1] as LocomotionTaskName;
  return { datasetId: `${taskName}-random-v4`, task: locomotionTask(taskName) };
}

export interface LocomotionGenerationOptions {
  datasetId: string;
  task: LocomotionTask;
  steps: number;
  seed: number;
  /** called every `progressEvery` steps and at the end */
  onProgress?: (done: number, total: number) => void;
  progressEvery?: number;
}

/**
 * Rolls out uniform-random actions in [-1, 1] and records D4RL's locomotion layout: row t holds
 * observations[t], actions[t], rewards[t] (the env's reward for that step), next_observations[t]
 * and the simulator state behind observations[t] in infos/qpos and infos/qvel (x, left out of the
 * observation, is there). An unhealthy state sets terminals; reaching the 1000-step limit sets
 * timeouts (a real termination on the last step counts as a terminal). An episode cut short by the
 * row budget also ends with timeouts set, so every episode in the file ends with one flag or the other.
 */
export async function generateLocomotionDataset(options: LocomotionGenerationOptions): Promise<LocomotionDataset> {
  const { task, steps } = options;
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer (got ${steps})`);
  const obsDim = observationDim(task);
  const actionDim = task.actionDim;
  const observations = new Float32Array(steps * obsDim);
  const nextObservations = new Float32Array(steps * obsDim);
  const actions = new Float32Array(steps * actionDim);
  const rewards = new Float32Array(steps);
  const terminals = new Uint8Array(steps);
  const timeouts = new Uint8Array(steps);
  const qposRows = new Float32Array(steps * task.nq);
  const qvelRows = new Float32Array(steps * task.nv);
  const root = new Rng(options.seed);
  const resetSeeds = root.fork();
  const actionRng = root.fork();
  const progressEvery = options.progressEvery ?? 100_000;
  const env = await LocomotionEnv.create({ task, id: options.datasetId });
  let episodes = 0;
  try {
    let observation = env.reset(resetSeeds.nextUint32()).observation;
    episodes = 1;
    const action = new Float64Array(actionDim);
    for (let t = 0; t < steps; t++) {
      for (let k = 0; k < actionDim; k++) action[k] = actionRng.uniform() * 2 - 1;
      const { qpos, qvel } = env.state();
      observations.set(observation, t * obsDim);
      actions.set(action, t * actionDim);
      qposRows.set(qpos, t * task.nq);
      qvelRows.set(qvel, t * task.nv);
      const result = env.step(action);
      rewards[t] = result.reward;
      nextObservations.set(result.observation, t * obsDim);
      terminals[t] = result.terminated ? 1 : 0;
      timeouts[t] = !result.terminated && (result.truncated || t === steps - 1) ? 1 : 0;
      if (result.terminated || result.truncated) {
        if (t < steps - 1) {
          observation = env.reset(resetSeeds.nextUint32()).observation;
          episodes++;
        }
      } else {
        observation = result.observation;
      }
      if (options.onProgress !== undefined && ((t + 1) % progressEvery === 0 || t + 1 === steps)) options.onProgress(t + 1, steps);
    }
  } finally {
    env.close();
  }
  return {
    observations,
    nextObservations,
    actions,
    rewards,
    terminals,
    timeouts,
    obsDim,
    actionDim,
    infos: { qpos: { data: qposRows, dim: task.nq }, qvel: { data: qvelRows, dim: task.nv } },
    attributes: {
      dataset_id: options.datasetId,
      env_id: task.envId,
      generator: 'stitch locomotion (uniform random actions in [-1, 1])',
      policy: 'random',
      seed: options.seed,
      steps,
      episodes,
      max_episode_steps: task.maxEpisodeSteps,
      simulator: await mujocoVersion(),
    },
  };
}
