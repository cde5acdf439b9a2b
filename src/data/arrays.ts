/**
 * The flat transition arrays every reader produces and every writer takes, whatever the format
 * (D4RL HDF5, Minari, CSV, JSONL): one row per transition, episodes marked by the flags.
 */

export interface TransitionArrays {
  observations: Float32Array; // [n, obsDim] row-major
  actions: Float32Array; // [n, actionDim]
  rewards: Float32Array; // [n]
  terminals: Uint8Array; // [n], 0/1
  timeouts: Uint8Array; // [n], 0/1
  obsDim: number;
  actionDim: number;
  infos?: Record<string, { data: Float32Array; dim: number }>; // D4RL writes them as infos/<key>
  attributes?: Record<string, string | number>; // file-level metadata (e.g. env id, generator, seed)
  /** [n, obsDim]; read only on request (no method trains on it), written when present */
  nextObservations?: Float32Array;
}

export interface ReadOptions {
  /** also read `next_observations` (for conversion; training never needs it) */
  nextObservations?: boolean;
  /** bytes the whole dataset may take in memory; defaults to memoryBudgetBytes() */
  memoryBudgetBytes?: number;
}

/** Checks that every array has n rows of the declared width; writers refuse inconsistent input. */
export function validateArrayShapes(arrays: TransitionArrays): number {
  const { obsDim, actionDim } = arrays;
  if (!Number.isInteger(obsDim) || obsDim < 1) throw new RangeError(`obsDim must be a positive integer (got ${obsDim})`);
  if (!Number.isInteger(actionDim) || actionDim < 1) throw new RangeError(`actionDim must be a positive integer (got ${actionDim})`);
  const n = arrays.rewards.length;
  const expect = (name: string, length: number, wanted: number): void => {
    if (length !== wanted) throw new RangeError(`${name} has ${length} values, expected ${wanted} (n = ${n} rewards)`);
  };
  expect('observations', arrays.observations.length, n * obsDim);
  expect('actions', arrays.actions.length, n * actionDim);
  expect('terminals', arrays.terminals.length, n);
  expect('timeouts', arrays.timeouts.length, n);
  if (arrays.nextObservations !== undefined) expect('nextObservations', arrays.nextObservations.length, n * obsDim);
  for (const [key, info] of Object.entries(arrays.infos ?? {})) expect(`infos/${key}`, info.data.length, n * info.dim);
  return n;
}
