/**
 * `stitch env run` (built-in policies in a task, D4RL-normalized score) and `stitch data make`
 * (regenerate a Maze2D dataset with D4RL's recipe, or roll out a random-policy locomotion dataset).
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { closest } from 'fastest-levenshtein';
import { writeD4rlHdf5 } from '../data/hdf5.js';
import { Rng } from '../engine/rng.js';
import { evaluatePolicy } from '../envs/evaluate.js';
import { generateLocomotionDataset, resolveLocomotionDataset, type LocomotionDatasetRecipe } from '../envs/locomotion/generate.js';
import { resolveMazeDataset } from '../envs/maze2d/datasets.js';
import { generateMazeDataset } from '../envs/maze2d/generate.js';
import { positionsOf, renderMazeSvg, sampleDatasetSegments } from '../envs/maze2d/render.js';
import { mujocoVersion } from '../envs/mujoco.js';
import { BUILTIN_POLICIES, isBuiltinPolicy, makeBuiltinPolicy } from '../envs/policies.js';
import { envIds, envSpec, type EnvSpec } from '../envs/registry.js';
import { camelCaseKeys } from '../util/json-keys.js';
import { UserError } from './errors.js';
import { addHiddenAlias, eitherSpelling } from './options.js';

function integerOption(name: string, value: string, min: number): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min) throw new UserError(`${name} must be an integer >= ${min} (got ${value})`);
  return parsed;
}

/**
 * An environment id as the user typed it: a registered id, or a name without its version
 * (`maze2d-umaze`, as `stitch data make` accepts) when exactly one registered id adds a version
 * to it. Anything else is a UserError suggesting the closest id.
 */
export function resolveEnvName(name: string, option = '--env'): string {
  const ids = envIds();
  if (ids.includes(name)) return name;
  const versioned = ids.filter((id) => id.startsWith(`${name}-v`) && /^\d+$/.test(id.slice(name.length + 2)));
  if (versioned.length === 1) {
    const id = versioned[0] as string;
    process.stderr.write(`stitch: note: ${option} ${name} means ${id}\n`);
    return id;
  }
  throw new UserError(`unknown environment '${name}' (did you mean ${closest(name, ids)}?); see stitch env list`);
}

function findSpec(name: string): { id: string; spec: EnvSpec } {
  const id = resolveEnvName(name, 'environment');
  return { id, spec: envSpec(id) };
}

interface RunOptions {
  policy: string;
  evalEpisodes?: string;
  evalEnvs?: string;
  /** older spellings of evalEpisodes, evalEnvs */
  episodes?: string;
  envs?: string;
  seed: string;
  json?: boolean;
  svg?: string;
}

interface MakeOptions {
  out: string;
  steps?: string;
  seed: string;
  noisy?: boolean;
  svg?: string;
}

export function registerEnvCommands(program: Command): void {
  const env = program.command('env').description('simulated tasks (Maze2D and Gym locomotion on MuJoCo WebAssembly)');

  env
    .command('list')
    .description('registered environment ids with their step limits and D4RL reference scores')
    .option('--json', 'print one JSON array, an object per environment')
    .action((options: { json?: boolean }) => {
      if (options.json === true) {
        console.log(JSON.stringify(envIds().map((id) => describeEnv(envSpec(id)))));
        return;
      }
      for (const id of envIds()) {
        const spec = envSpec(id);
        const alias = spec.aliasOf === undefined ? '' : `  (runs ${spec.aliasOf})`;
        console.log(`${id.padEnd(30)} steps ${String(spec.maxEpisodeSteps).padStart(4)}  ref min ${spec.referenceScores.min}  max ${spec.referenceScores.max}${alias}`);
      }
    });

  const run = env
    .command('run')
    .description('run a built-in policy and print mean return, std, episode length and the D4RL-normalized score')
    .argument('<env-id>', 'e.g. maze2d-umaze-v1 (or maze2d-umaze), hopper-v4, hopper-medium-replay-v2 (see `stitch env list`)')
    .option('--policy <name>', `${BUILTIN_POLICIES.join(' | ')} (expert: D4RL's reference controller; planner: replans every episode)`, 'random')
    .option('--eval-episodes <n>', 'number of episodes (default 10)')
    .option('--seed <s>', 'seed of the episode resets and the policy', '0')
    .option('--eval-envs <n>', 'environments stepped side by side (default 32)')
    .option('--json', 'print one JSON object (camelCase keys)')
    .option('--svg <file>', 'draw the episodes over the maze (Maze2D only)');
  addHiddenAlias(run, '--episodes <n>', 'number of episodes');
  addHiddenAlias(run, '--envs <n>', 'environments stepped side by side');
  run.action(async (name: string, options: RunOptions) => {
      const { id, spec } = findSpec(name);
      if (!isBuiltinPolicy(options.policy)) throw new UserError(`--policy must be one of ${BUILTIN_POLICIES.join(', ')} (got ${options.policy})`);
      if ((options.policy === 'expert' || options.policy === 'planner') && spec.maze === undefined) throw new UserError(`--policy ${options.policy} exists for Maze2D tasks only`);
      if (options.svg !== undefined && spec.maze === undefined) throw new UserError('--svg draws Maze2D tasks only');
      const episodesText = eitherSpelling({ flag: '--eval-episodes', value: options.evalEpisodes }, { flag: '--episodes', value: options.episodes }) ?? '10';
      const envsText = eitherSpelling({ flag: '--eval-envs', value: options.evalEnvs }, { flag: '--envs', value: options.envs }) ?? '32';
      const episodes = integerOption('--eval-episodes', episodesText, 1);
      const seed = integerOption('--seed', options.seed, 0);
      const numEnvs = integerOption('--eval-envs', envsText, 1);
      const started = performance.now();
      const result = await evaluatePolicy(id, makeBuiltinPolicy(options.policy, spec), { episodes, seed, numEnvs, recordObservations: options.svg !== undefined });
      const seconds = (performance.now() - started) / 1000;
      if (options.svg !== undefined && spec.maze !== undefined && result.observations !== undefined) {
        const paths = result.observations.map((episode) => ({ points: positionsOf(episode, spec.obsDim) }));
        writeFileSync(options.svg, renderMazeSvg(spec.maze.layout, { paths, title: `${id} · ${options.policy} · ${episodes} episodes` }));
      }
      const simulator = await mujocoVersion();
      if (options.json === true) {
        // one name per fact: the result's envId is printed as env, as in every other record
        const { observations: _recorded, envId: _id, ...summary } = result;
        console.log(JSON.stringify(camelCaseKeys({ env: id, policy: options.policy, seed, simulator, seconds, ...summary })));
        return;
      }
      const fmt = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(2));
      console.log(`${id}  policy ${options.policy}  ${episodes} episodes  seed ${seed}  (${simulator}, ${seconds.toFixed(1)} s)`);
      console.log(`return      mean ${fmt(result.mean_return)}  std ${fmt(result.std_return)}`);
      console.log(`length      mean ${fmt(result.mean_length)}`);
      console.log(`normalized  ${fmt(result.normalized_score)} ± ${fmt(result.normalized_std)}  (D4RL: 100 * (R - ${spec.referenceScores.min}) / (${spec.referenceScores.max} - ${spec.referenceScores.min}))`);
      if (options.svg !== undefined) console.log(`drawing     ${options.svg}`);
    });
}

/** `env list --json`: one object per environment */
function describeEnv(spec: EnvSpec): Record<string, unknown> {
  return {
    env: spec.id,
    maxEpisodeSteps: spec.maxEpisodeSteps,
    obsDim: spec.obsDim,
    actionDim: spec.actionDim,
    referenceScores: { min: spec.referenceScores.min, max: spec.referenceScores.max },
    family: spec.maze !== undefined ? 'maze2d' : 'locomotion',
    aliasOf: spec.aliasOf ?? null,
  };
}

/** Default rows of a locomotion dataset: the size of D4RL's *-random-v2 files. */
const LOCOMOTION_DEFAULT_STEPS = 1_000_000;

async function makeLocomotionDataset(recipe: LocomotionDatasetRecipe, options: MakeOptions): Promise<void> {
  if (options.noisy === true || options.svg !== undefined) throw new UserError('--noisy and --svg apply to Maze2D datasets only');
  const steps = options.steps === undefined ? LOCOMOTION_DEFAULT_STEPS : integerOption('--steps', options.steps, 1);
  const seed = integerOption('--seed', options.seed, 0);
  const started = performance.now();
  const dataset = await generateLocomotionDataset({
    datasetId: recipe.datasetId,
    task: recipe.task,
    steps,
    seed,
    progressEvery: Math.max(10_000, Math.round(steps / 20)),
    onProgress: (done, total) => {
      const elapsed = (performance.now() - started) / 1000;
      process.stderr.write(`\r${recipe.datasetId}: ${done}/${total} steps (${((100 * done) / total).toFixed(0)}%, ${elapsed.toFixed(1)} s)${done === total ? '\n' : ''}`);
    },
  });
  await writeD4rlHdf5(options.out, dataset);
  const count = (flags: Uint8Array): number => flags.reduce((sum, flag) => sum + flag, 0);
  const episodes = count(dataset.terminals) + count(dataset.timeouts);
  const rewardSum = dataset.rewards.reduce((sum, r) => sum + r, 0);
  console.log(
    `wrote ${options.out}: ${steps} rows, ${episodes} episodes (${count(dataset.terminals)} terminated, ${count(dataset.timeouts)} timed out or cut), mean return ${(rewardSum / episodes).toFixed(2)}, ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}

/** Adds `make` to the data command group (commander allows one `data` group, owned by src/cli/data.ts). */
export function registerDataMakeCommand(dataCommand: Command): void {
  dataCommand
    .command('make')
    .description("write a D4RL-layout HDF5 dataset: Maze2D with D4RL's recipe (planner + PD controller), or locomotion with uniform-random actions")
    .argument('<dataset>', 'maze2d-{open,umaze,medium,large}[-dense][-v1|-v0] (sparse rewards unless -dense), or {hopper,halfcheetah,walker2d}-random[-v4]')
    .requiredOption('--out <file>', 'output .hdf5 file')
    .option('--steps <n>', 'rows to generate (default as D4RL: 1M open/umaze, 2M medium, 4M large, 1M locomotion)')
    .option('--seed <s>', 'seed of targets, resets, waypoint jitter and action noise', '0')
    .option('--noisy', "add N(0, 0.5^2) action noise before clipping (D4RL's --noisy)")
    .option('--svg <file>', 'also draw 30 random segments over the maze')
    .action(async (name: string, options: MakeOptions) => {
      const locomotion = resolveLocomotionDataset(name);
      if (locomotion !== undefined) {
        await makeLocomotionDataset(locomotion, options);
        return;
      }
      const recipe = resolveMazeDataset(name);
      if (recipe === undefined) {
        throw new UserError(
          `cannot make '${name}': expected maze2d-open, maze2d-umaze, maze2d-medium or maze2d-large, optionally with -dense and the version (-v0 for open, -v1 otherwise), or hopper-random, halfcheetah-random, walker2d-random (-v4)`,
        );
      }
      const spec = envSpec(recipe.envId);
      const maze = spec.maze;
      if (maze === undefined) throw new UserError(`${recipe.envId} is not a maze task`);
      const steps = options.steps === undefined ? recipe.defaultSteps : integerOption('--steps', options.steps, 1);
      const seed = integerOption('--seed', options.seed, 0);
      const started = performance.now();
      const dataset = await generateMazeDataset({
        datasetId: recipe.datasetId,
        layout: maze.layout,
        maxEpisodeSteps: spec.maxEpisodeSteps,
        rewardType: recipe.rewardType,
        steps,
        seed,
        noisy: options.noisy === true,
        progressEvery: Math.max(10_000, Math.round(steps / 20)),
        onProgress: (done, total) => {
          const elapsed = (performance.now() - started) / 1000;
          process.stderr.write(`\r${recipe.datasetId}: ${done}/${total} steps (${((100 * done) / total).toFixed(0)}%, ${elapsed.toFixed(1)} s)${done === total ? '\n' : ''}`);
        },
      });
      await writeD4rlHdf5(options.out, dataset);
      const segments = dataset.timeouts.reduce((count, flag) => count + flag, 0);
      const rewardSum = dataset.rewards.reduce((sum, r) => sum + r, 0);
      console.log(`wrote ${options.out}: ${steps} rows, ${segments} goals reached, mean segment ${(steps / Math.max(segments, 1)).toFixed(1)} steps, mean reward ${(rewardSum / steps).toFixed(4)} (${recipe.rewardType}), ${((performance.now() - started) / 1000).toFixed(1)} s`);
      if (options.svg !== undefined) {
        const paths = sampleDatasetSegments(dataset, 30, new Rng(seed));
        writeFileSync(options.svg, renderMazeSvg(maze.layout, { paths, title: `${recipe.datasetId} · 30 random segments` }));
        console.log(`drawing ${options.svg}`);
      }
    });
}
