/**
 * Environment throughput: raw MuJoCo steps (the reference), one Maze2D env, a vector of 32, and
 * the time to regenerate maze2d-umaze with D4RL's recipe. Env rates are also given as a fraction
 * of the raw physics rate measured in the same run.
 */
import { Rng } from '../src/engine/rng.js';
import { generateMazeDataset } from '../src/envs/maze2d/generate.js';
import { mazeLayout } from '../src/envs/maze2d/layouts.js';
import { pointMazeXml } from '../src/envs/maze2d/model.js';
import { loadMujoco, mujocoVersion, MujocoSim } from '../src/envs/mujoco.js';
import { makeEnv, makeVectorEnv } from '../src/envs/registry.js';
import type { BenchOptions, BenchRow } from './types.js';

function perSecond(count: number, startedMs: number): number {
  return (count * 1000) / (performance.now() - startedMs);
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
  const vec = await makeVectorEnv('maze2d-umaze-v1', numEnvs, { autoReset: true });
  vec.reset(0);
  const actions = new Float32Array(numEnvs * 2);
  const vectorSteps = Math.ceil(steps / numEnvs);
  started = performance.now();
  for (let t = 0; t < vectorSteps; t++) {
    for (let k = 0; k < actions.length; k++) actions[k] = rng.uniform() * 2 - 1;
    vec.step(actions);
  }
  const vectorized = perSecond(vectorSteps * numEnvs, started);
  vec.close();

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
  ];
}
