/**
 * Locally generated Maze2D datasets for runs that name no dataset file (the embedded default):
 * generated with D4RL's recipe on first use and cached under $STITCH_CACHE (default
 * ~/.cache/stitch), keyed by dataset id, size and seed, so later runs load the same file.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeD4rlHdf5 } from '../data/hdf5.js';
import { envSpec } from '../envs/registry.js';
import { resolveMazeDataset } from '../envs/maze2d/datasets.js';
import { generateMazeDataset } from '../envs/maze2d/generate.js';
import { RunConfigError } from './config.js';

export function cacheDir(): string {
  const configured = process.env.STITCH_CACHE;
  return configured !== undefined && configured !== '' ? configured : join(homedir(), '.cache', 'stitch');
}

export interface GeneratedDatasetOptions {
  /** rows (default: D4RL's size for the maze) */
  steps?: number;
  seed?: number;
  onProgress?: (done: number, total: number) => void;
}

/** The cached file of a generated Maze2D dataset for `envId`, generating it first when missing. */
export async function ensureGeneratedDataset(envId: string, options: GeneratedDatasetOptions = {}): Promise<string> {
  const recipe = resolveMazeDataset(envId);
  const maze = recipe === undefined ? undefined : envSpec(recipe.envId).maze;
  if (recipe === undefined || maze === undefined) {
    throw new RunConfigError(`no dataset given and none can be generated for ${envId} (only Maze2D datasets are generated locally); pass --dataset FILE`);
  }
  const steps = options.steps ?? recipe.defaultSteps;
  const seed = options.seed ?? 0;
  const dir = join(cacheDir(), 'datasets');
  const path = join(dir, `${recipe.datasetId}-${steps}-seed${seed}.hdf5`);
  if (existsSync(path)) return path;
  mkdirSync(dir, { recursive: true });
  const dataset = await generateMazeDataset({
    datasetId: recipe.datasetId, layout: maze.layout, maxEpisodeSteps: envSpec(recipe.envId).maxEpisodeSteps,
    rewardType: recipe.rewardType, steps, seed, progressEvery: Math.max(10_000, Math.round(steps / 20)),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  // atomic: a run killed while generating leaves no half-written cache entry
  await writeD4rlHdf5(path, dataset);
  return path;
}
