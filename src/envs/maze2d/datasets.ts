import type { MazeRewardType } from './env.js';

/** What `stitch data make` needs to regenerate one D4RL Maze2D dataset. */
export interface MazeDatasetRecipe {
  /** canonical dataset id, e.g. maze2d-umaze-v1 or maze2d-umaze-dense-v1 */
  datasetId: string;
  /** the registered task whose maze and step limit the generator uses */
  envId: string;
  rewardType: MazeRewardType;
  /** D4RL's size: 1M for umaze (and open), 2M for medium, 4M for large */
  defaultSteps: number;
}

const DEFAULT_STEPS = { open: 1_000_000, umaze: 1_000_000, medium: 2_000_000, large: 4_000_000 } as const;

/**
 * Accepts maze2d-umaze, maze2d-umaze-v1, maze2d-umaze-sparse-v1, maze2d-umaze-dense(-v1), and the
 * same for open (v0), medium and large. Returns undefined for anything else.
 */
export function resolveMazeDataset(name: string): MazeDatasetRecipe | undefined {
  const match = /^maze2d-(open|umaze|medium|large)(?:-(sparse|dense))?(?:-(v\d+))?$/.exec(name);
  if (match === null) return undefined;
  const maze = match[1] as keyof typeof DEFAULT_STEPS;
  const rewardType: MazeRewardType = match[2] === 'dense' ? 'dense' : 'sparse';
  const version = maze === 'open' ? 'v0' : 'v1';
  if (match[3] !== undefined && match[3] !== version) return undefined;
  const envId = `maze2d-${maze}${rewardType === 'dense' ? '-dense' : ''}-${version}`;
  return { datasetId: envId, envId, rewardType, defaultSteps: DEFAULT_STEPS[maze] };
}
