import { Rng } from '../../engine/rng.js';
import { mujocoVersion } from '../mujoco.js';
import { WaypointController } from './controller.js';
import { Maze2dEnv, mazeReward, type MazeRewardType } from './env.js';
import type { MazeLayout } from './layouts.js';

/** Same layout as src/data/arrays.ts's TransitionArrays (kept structural so src/envs does not import the data layer). */
export interface GeneratedDataset {
  observations: Float32Array;
  actions: Float32Array;
  rewards: Float32Array;
  terminals: Uint8Array;
  timeouts: Uint8Array;
  obsDim: number;
  actionDim: number;
  infos: Record<string, { data: Float32Array; dim: number }>;
  attributes: Record<string, string | number>;
}

export interface MazeGenerationOptions {
  /** dataset name written into the attributes, e.g. maze2d-umaze-v1 */
  datasetId: string;
  layout: MazeLayout;
  /** the registered task's step limit: a navigation segment longer than this is cut (D4RL's ts counter) */
  maxEpisodeSteps: number;
  /** reward labels, relative to the fixed evaluation goal */
  rewardType: MazeRewardType;
  steps: number;
  seed: number;
  /** D4RL's --noisy: N(0, 0.5^2) added to each action component before clipping */
  noisy?: boolean;
  /** called every `progressEvery` steps and at the end */
  onProgress?: (done: number, total: number) => void;
  progressEvery?: number;
}

/**
 * D4RL's generate_maze2d_datasets.py followed by relabel_maze2d_rewards.py.
 *
 * One continuous rollout: the env is reset once; whenever the controller reaches the current
 * random target (or the segment reaches the task's step limit) the row is marked in `timeouts`, a
 * new random target is drawn and the ball carries on from where it is. D4RL's loop does not
 * advance its observation variable on such a row, so the row after each boundary repeats the
 * boundary row's observation (while infos/qpos and infos/qvel hold the simulator's true state);
 * this is reproduced. `terminals` is all zero: Maze2D has no terminal states.
 *
 * Rewards are labelled afterwards against the FIXED evaluation goal, from observations[t] itself
 * (the float32 value, as the relabel script reads it from the file). The online env scores the
 * observation after the step, so dataset rewards lead the env's by one step — D4RL's one-step quirk.
 */
export async function generateMazeDataset(options: MazeGenerationOptions): Promise<GeneratedDataset> {
  const { layout, steps } = options;
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer (got ${steps})`);
  const root = new Rng(options.seed);
  const envRng = root.fork();
  const jitterRng = root.fork();
  const noiseRng = root.fork();
  const env = await Maze2dEnv.create({ id: options.datasetId, layout, rewardType: 'dense', maxEpisodeSteps: Infinity });
  const observations = new Float32Array(steps * 4);
  const actions = new Float32Array(steps * 2);
  const timeouts = new Uint8Array(steps);
  const goals = new Float32Array(steps * 2);
  const qpos = new Float32Array(steps * 2);
  const qvel = new Float32Array(steps * 2);
  const progressEvery = options.progressEvery ?? 100_000;
  try {
    const controller = new WaypointController(layout, jitterRng);
    env.setRandomTarget(envRng);
    let state = env.reset(envRng.nextUint32()).observation;
    let segmentSteps = 0;
    const action = new Float64Array(2);
    for (let t = 0; t < steps; t++) {
      const target = env.targetPosition;
      const out = controller.act(state[0] as number, state[1] as number, state[2] as number, state[3] as number, target[0] as number, target[1] as number);
      let done = out.reachedTarget;
      for (let k = 0; k < 2; k++) {
        const raw = (out.action[k] as number) + (options.noisy === true ? noiseRng.normal() * 0.5 : 0);
        action[k] = raw < -1 ? -1 : raw > 1 ? 1 : raw;
      }
      if (segmentSteps >= options.maxEpisodeSteps) done = true;
      observations.set(state, t * 4);
      actions.set(action, t * 2);
      timeouts[t] = done ? 1 : 0;
      goals.set(target, t * 2);
      const simState = env.observe();
      qpos.set(simState.subarray(0, 2), t * 2);
      qvel.set(simState.subarray(2, 4), t * 2);
      env.advance(action);
      segmentSteps++;
      if (done) {
        env.setRandomTarget(envRng);
        segmentSteps = 0;
      } else {
        state = env.observe();
      }
      if (options.onProgress !== undefined && ((t + 1) % progressEvery === 0 || t + 1 === steps)) options.onProgress(t + 1, steps);
    }
  } finally {
    env.close();
  }
  return {
    observations,
    actions,
    rewards: relabelMazeRewards(observations, layout, options.rewardType),
    terminals: new Uint8Array(steps),
    timeouts,
    obsDim: 4,
    actionDim: 2,
    infos: { goal: { data: goals, dim: 2 }, qpos: { data: qpos, dim: 2 }, qvel: { data: qvel, dim: 2 } },
    attributes: {
      dataset_id: options.datasetId,
      generator: 'stitch maze2d (D4RL generate_maze2d_datasets.py recipe)',
      reward_type: options.rewardType,
      seed: options.seed,
      steps,
      noisy: options.noisy === true ? 1 : 0,
      max_episode_steps: options.maxEpisodeSteps,
      simulator: await mujocoVersion(),
    },
  };
}

/** relabel_maze2d_rewards.py: reward[t] from observations[t] against the fixed evaluation goal. */
export function relabelMazeRewards(observations: Float32Array, layout: MazeLayout, rewardType: MazeRewardType): Float32Array {
  const rows = observations.length / 4;
  const rewards = new Float32Array(rows);
  const [goalX, goalY] = layout.goal;
  for (let t = 0; t < rows; t++) rewards[t] = mazeReward(rewardType, observations[t * 4] as number, observations[t * 4 + 1] as number, goalX, goalY);
  return rewards;
}
