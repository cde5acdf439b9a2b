// A Gym locomotion task from Node: make it, step it with your own controller, and score a batch
// of episodes with D4RL's normalization. Run after `npm run build`:  node examples/locomotion-env.mjs
// (test/examples/examples.test.ts runs it, so this file stays true to the API.)
import { envSpec, evaluatePolicy, makeEnv } from 'stitch-rl';

// A D4RL dataset id runs its task (hopper-v4) and keeps that dataset's reference scores.
const ENV_ID = 'hopper-medium-replay-v2';
const spec = envSpec(ENV_ID);
console.log(`${ENV_ID} runs ${spec.aliasOf}: ${spec.obsDim} observations, ${spec.actionDim} actions, at most ${spec.maxEpisodeSteps} steps`);

// makeEnv is async (MuJoCo's WebAssembly module loads first): without await, env.reset is not a function.
const env = await makeEnv(ENV_ID, { seed: 0 });
let { observation } = env.reset(0);
let episodeReturn = 0;
let length = 0;
for (;;) {
  // a fixed open-loop controller: a small push on every joint, alternating sign every 10 steps
  const sign = Math.floor(length / 10) % 2 === 0 ? 1 : -1;
  const step = env.step(new Array(spec.actionDim).fill(0.3 * sign));
  episodeReturn += step.reward;
  length += 1;
  if (step.terminated || step.truncated) break;
  observation = step.observation;
}
env.close();
console.log(`one episode: return ${episodeReturn.toFixed(2)} in ${length} steps (last height ${observation[0].toFixed(3)})`);

// Many episodes side by side: evaluatePolicy takes a batched policy (one row per environment).
const zeroPolicy = {
  beginEpisode() {},
  act(_observations, _active, actions) { actions.fill(0); },
};
const result = await evaluatePolicy(ENV_ID, zeroPolicy, { episodes: 4, seed: 0, numEnvs: 4 });
console.log(`zero actions over ${result.episodes} episodes: mean return ${result.mean_return.toFixed(2)}, D4RL-normalized ${result.normalized_score?.toFixed(1)}`);
