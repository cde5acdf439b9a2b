/** Small datasets and tiny model settings shared by the training tests. */
import { join } from 'node:path';
import { removedAtExit } from '../helpers/temp.js';
import { writeD4rlHdf5 } from '../../src/data/hdf5.js';
import { generateMazeDataset } from '../../src/envs/maze2d/generate.js';
import { mazeLayout } from '../../src/envs/maze2d/layouts.js';
import { resolveRunConfig, type RunConfig, type RunRequest } from '../../src/train/config.js';
import type { TrainIO } from '../../src/train/trainer.js';

export const ENV = 'maze2d-umaze-v1';

/** a temporary directory, removed when the test process exits */
export function tempDir(): string {
  return removedAtExit('stitch-train-');
}

/** a generated maze2d-umaze dataset of `steps` rows (about 130 segments per 10k rows) */
export async function smallMazeDataset(dir: string, steps = 10_000): Promise<string> {
  const path = join(dir, 'umaze-small.hdf5');
  const data = await generateMazeDataset({ datasetId: ENV, layout: mazeLayout('umaze'), maxEpisodeSteps: 300, rewardType: 'sparse', steps, seed: 5 });
  await writeD4rlHdf5(path, data, { compression: 'none' });
  return path;
}

/** a tiny DT with two target returns (so per-condition results have two entries) */
export const TINY_DT: Record<string, unknown> = {
  width: 16, layers: 1, heads: 1, mlpWidth: 32, context: 4, batchSize: 8, warmupSteps: 10, targetReturns: [60, 20],
};

export const TINY_REINFORMER: Record<string, unknown> = {
  width: 16, layers: 1, heads: 1, context: 4, batchSize: 8, warmupSteps: 10,
};

export const TINY_QT: Record<string, unknown> = {
  width: 16, layers: 1, heads: 1, mlpWidth: 32, criticWidth: 16, context: 4, batchSize: 8, candidates: 8,
  targetReturns: [60, 20], returnScale: 10, emaStart: 10, iterations: 4, stepsPerIteration: 10,
};

/** tiny settings for every registered algorithm: the conformance test fails for one missing here */
export const TINY_CONFIGS: Readonly<Record<string, Record<string, unknown>>> = {
  dt: TINY_DT,
  reinformer: TINY_REINFORMER,
  qt: TINY_QT,
  rdt: { width: 16, layers: 1, heads: 1, mlpWidth: 32, context: 4, batchSize: 8, targetReturns: [60, 20], returnScale: 10, iterations: 4, stepsPerIteration: 10 },
  rvdt: { ...TINY_QT },
};

export function tinyConfig(dataset: string, algo: string, fields: Partial<RunRequest> = {}): RunConfig {
  const overrides = TINY_CONFIGS[algo];
  if (overrides === undefined) throw new Error(`no tiny test config for algorithm ${algo}: add one to TINY_CONFIGS`);
  return resolveRunConfig({
    algo, dataset, env: ENV, steps: 40, evalEvery: 20, evalEpisodes: 2, logEvery: 10, checkpointEvery: 20,
    overrides,
    ...fields,
  }, undefined);
}

/** collects what the trainer writes (progress, messages) */
export function captureIO(): TrainIO & { text: () => string } {
  const chunks: string[] = [];
  return { stream: { write: (text: string) => chunks.push(text) }, interactive: false, text: () => chunks.join('') };
}
