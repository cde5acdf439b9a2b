// From data to a deployed policy with the Node API, start to end, in about half a minute on 2 cores:
//   1. roll out a random policy in Maze2D and save the transitions as a JSONL dataset,
//   2. train a tiny Decision Transformer on it for a few steps,
//   3. load the policy file and drive an environment with it, step by step.
// Run it after `npm run build`:  node examples/train-and-deploy.mjs [WORK_DIR]
// (test/examples/examples.test.ts runs it, so this file stays true to the API.)
// A random-policy dataset and 60 steps teach the model little: this shows the calls, not a result.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicy, makeEnv, resolveRunConfig, Rng, startRun } from 'stitch-rl';

const ENV_ID = 'maze2d-umaze-v1';
const workDir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'stitch-example-'));

// 1. A dataset. makeEnv is async (the simulator loads first): always await it.
const collector = await makeEnv(ENV_ID, { seed: 0 });
const rng = new Rng(0);
const { low, high } = collector.actionSpace;
const lines = [];
for (let episode = 0; episode < 20; episode++) {
  let { observation } = collector.reset(episode);
  for (;;) {
    const action = Array.from(low, (lower, i) => lower + (high[i] - lower) * rng.uniform());
    const step = collector.step(action);
    lines.push(JSON.stringify({ observation: Array.from(observation), action, reward: step.reward, terminated: step.terminated, truncated: step.truncated }));
    if (step.terminated || step.truncated) break;
    observation = step.observation;
  }
}
collector.close();
const datasetPath = join(workDir, 'random-umaze.jsonl');
writeFileSync(datasetPath, `${lines.join('\n')}\n`);
console.log(`dataset: ${lines.length} transitions in ${datasetPath}`);

// 2. Training: the same config `stitch train` resolves, with a tiny network and step budget.
const config = resolveRunConfig({
  algo: 'dt',
  dataset: datasetPath,
  env: ENV_ID,
  steps: 60,
  evalEvery: 0,
  evalEpisodes: 2,
  overrides: { width: 16, layers: 1, heads: 1, mlpWidth: 32, context: 4, batchSize: 16, warmupSteps: 10, targetReturns: [60] },
}, undefined);
const outcome = await startRun(join(workDir, 'run'), config, { stream: process.stderr });
console.log(`trained: ${outcome.policyPath} (last evaluation: mean return ${outcome.last.mean_return.toFixed(2)})`);

// 3. Deployment: the policy file alone, and an environment made for the task it was trained on.
const policy = loadPolicy(outcome.policyPath);
const env = await makeEnv(policy.header.envId, { seed: 1 });
policy.reset();
let { observation } = env.reset(1);
let episodeReturn = 0;
let length = 0;
for (;;) {
  const action = policy.act(observation); // raw observation in, action within the task's bounds out
  const step = env.step(action);
  policy.observeReward(step.reward); // return-conditioned policies count their target down
  episodeReturn += step.reward;
  length += 1;
  if (step.terminated || step.truncated) break;
  observation = step.observation;
}
env.close();
console.log(`deployed: one episode in ${policy.header.envId}, return ${episodeReturn.toFixed(2)}, ${length} steps`);
