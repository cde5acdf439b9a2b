import { removedAtExit } from '../helpers/temp.js';
import type { TransitionArrays } from '../../src/data/arrays.js';

export const FIXTURES = 'test/fixtures/data';

/** a temporary directory, removed when the test process exits */
export function tempDir(): string {
  return removedAtExit('stitch-data-');
}

/** Episodes of the given lengths; each ends with a timeout unless listed in `terminalEpisodes`. */
export function syntheticArrays(lengths: number[], options: { obsDim?: number; actionDim?: number; terminalEpisodes?: number[]; trailing?: number } = {}): TransitionArrays {
  const obsDim = options.obsDim ?? 3;
  const actionDim = options.actionDim ?? 2;
  const n = lengths.reduce((a, b) => a + b, 0) + (options.trailing ?? 0);
  const arrays: TransitionArrays = {
    observations: Float32Array.from({ length: n * obsDim }, (_, i) => Math.floor(i / obsDim) + (i % obsDim) / 10),
    actions: Float32Array.from({ length: n * actionDim }, (_, i) => ((i % 7) - 3) / 4),
    rewards: Float32Array.from({ length: n }, (_, i) => (i % 5) / 2),
    terminals: new Uint8Array(n),
    timeouts: new Uint8Array(n),
    obsDim,
    actionDim,
  };
  let end = 0;
  lengths.forEach((length, e) => {
    end += length;
    if (options.terminalEpisodes?.includes(e)) arrays.terminals[end - 1] = 1;
    else arrays.timeouts[end - 1] = 1;
  });
  return arrays;
}
