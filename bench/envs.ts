/**
 * Environment throughput: raw MuJoCo steps (the reference), one Maze2D env, a vector of 32, and
 * the time to regenerate maze2d-umaze with D4RL's recipe. Env rates are also given as a fraction
 * of the raw physics rate measured in the same run. Then each locomotion task with uniform-random
 * actions, single and as a vector of 16 (auto reset; random Hopper and Walker2d episodes last
 * about 20 steps, so resets are part of the figure), against its own raw physics rate.
 */
import { Rng } from '../src/engine/rng.js';
import { generateMazeDataset } from '../src/envs/maze2d/generate.js';
import { LOCOMOTION_TASKS, locomotionTask } from '../src/envs/locomotion/tasks.js';
import { mazeLayout } from '../src/envs/maze2d/layouts.js';
import { pointMazeXml } from '../src/envs/maze2d/model.js';
import { loadMujoco, mujocoVersion, MujocoSim } from '../src/envs/mujoco.js';
import { makeEnv, makeVectorEnv } from '../src/envs/registry.js';
import type { BenchOptions, BenchRow } from './types.js';

function perSecond(count: number, startedMs: number): number {
  return (count * 1000) / (performance.now() - startedMs);
}

/** environment steps per second of numEnvs auto-resetting environments under uniform-random actions */
async function vectorStepsPerSecond(envId: string, numEnvs: number, actionDim: number, steps: number, rng: Rng): Promise<number> {
  const vec = await makeVectorEnv(envId, numEnvs, { autoReset: true });
  vec.reset(0);
  const actions = new Float32Array(numEnvs * actionDim);
  const vectorSteps = Math.ceil(steps / numEnvs);
  const started = performance.now();
  for (let t = 0; t < vectorSteps; t++) {
    for (let k = 0; k < actions.length; k++) actions[k] = rng.uniform() * 2 - 1;
    vec.step(actions);
  }
  const rate = perSecond(vectorSteps * numEnvs, started);
  vec.close();
  return rate;
}

export async function run(options: BenchOptions): Promise<BenchRow[]> {
  const steps = options.quick ? 20_000 : 200_000;
  const rng = new Rng(0);
  const simulator = await mujocoVersion();

  const sim = MujocoSim.fromXml(await loadMujoco(), pointMazeXml(mazeLayout('umaze')));
  sim.qpos[0] = 3;
  sim.qpos[1] = 1;
  let started = performance.now();
  for (let t = 0; t < steps; t++) {
    sim.ctrl[0] = rng.uniform() * 2 - 1;
    sim.ctrl[1] = rng.uniform() * 2 - 1;
    sim.step();
  }
  const raw = perSecond(steps, started);
  sim.dispose();

  const env = await makeEnv('maze2d-umaze-v1');
  env.reset(0);
  const action = new Float64Array(2);
  started = performance.now();
  for (let t = 0; t < steps; t++) {
    action[0] = rng.uniform() * 2 - 1;
    action[1] = rng.uniform() * 2 - 1;
    if (env.step(action).truncated) env.reset();
  }
  const single = perSecond(steps, started);
  env.close();

  const numEnvs = 32;
  const vectorized = await vectorStepsPerSecond('maze2d-umaze-v1', numEnvs, 2, steps, rng);

  const locomotionRows = await benchLocomotion(options.quick ? 2_000 : 20_000, rng);

  const generationSteps = options.quick ? 100_000 : 1_000_000;
  started = performance.now();
  await generateMazeDataset({ datasetId: 'maze2d-umaze-v1', layout: mazeLayout('umaze'), maxEpisodeSteps: 300, rewardType: 'sparse', steps: generationSteps, seed: 0 });
  const generationSeconds = (performance.now() - started) / 1000;

  return [
    { name: 'mujoco raw mj_step (umaze model)', steps_per_s: raw, simulator },
    { name: 'maze2d-umaze-v1 single env', steps_per_s: single, vs_raw: single / raw },
    { name: `maze2d-umaze-v1 vector x${numEnvs}`, steps_per_s: vectorized, vs_raw: vectorized / raw },
    {
      name: 'generate maze2d-umaze (D4RL recipe)',
      steps: generationSteps,
      seconds: generationSeconds,
      seconds_per_1M: (generationSeconds * 1_000_000) / generationSteps,
      extrapolated: generationSteps !== 1_000_000,
    },
    ...locomotionRows,
  ];
}

async function benchLocomotion(envSteps: number, rng: Rng): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const name of LOCOMOTION_TASKS) {
    const task = locomotionTask(name);
    const physicsSteps = envSteps * task.frameSkip;
    const sim = MujocoSim.fromXml(await loadMujoco(), task.xml());
    // Resets every 25 env steps, about a random Hopper or Walker2d episode: a walker lying on the
    // floor costs more per step than one falling, so the reference sees the same mix as the env rows.
    const resetEvery = 25 * task.frameSkip;
    const stepRaw = (count: number): void => {
      for (let t = 0; t < count; t++) {
        if (t % resetEvery === 0) sim.resetData();
        if (t % task.frameSkip === 0) for (let k = 0; k < task.actionDim; k++) sim.ctrl[k] = rng.uniform() * 2 - 1;
        sim.step();
      }
    };
    stepRaw(resetEvery * 10); // warm-up, so the first task's figure does not include wasm tier-up
    let started = performance.now();
    stepRaw(physicsSteps);
    const raw = perSecond(physicsSteps, started);
    sim.dispose();

    const env = await makeEnv(task.envId);
    env.reset(0);
    const action = new Float64Array(task.actionDim);
    started = performance.now();
    for (let t = 0; t < envSteps; t++) {
      for (let k = 0; k < action.length; k++) action[k] = rng.uniform() * 2 - 1;
      const result = env.step(action);
      if (result.terminated || result.truncated) env.reset();
    }
    const single = perSecond(envSteps, started);
    env.close();

    const numEnvs = 16;
    const vectorized = await vectorStepsPerSecond(task.envId, numEnvs, task.actionDim, envSteps, rng);

    rows.push(
      { name: `${task.envId} raw mj_step`, steps_per_s: raw, env_steps_per_s_equivalent: raw / task.frameSkip },
      { name: `${task.envId} single env`, steps_per_s: single, vs_raw: (single * task.frameSkip) / raw },
      { name: `${task.envId} vector x${numEnvs}`, steps_per_s: vectorized, vs_raw: (vectorized * task.frameSkip) / raw },
    );
  }
  return rows;
}
