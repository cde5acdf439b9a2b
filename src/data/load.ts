/**
 * One entry point for every format: detect it, read it, segment it into episodes, run the health
 * checks and build the trajectory store. `inspectDataset` reports; `loadDataset` refuses data
 * with error findings (warnings too with `strict`).
 */
import { existsSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { DataFileError } from './errors.js';
import { regularFileSize } from './files.js';
import { applyStrict, formatFinding, hasErrors } from './findings.js';
import type { Finding } from './findings.js';
import { readD4rlHdf5WithFindings, writeD4rlHdf5 } from './hdf5.js';
import type { TransitionArrays } from './arrays.js';
import { checkHealth, validateActionBounds } from './health.js';
import type { ActionBounds } from './health.js';
import { readMinari, resolveMinariDataDir, writeMinari } from './minari.js';
import { TrajectoryStore, segmentEpisodes } from './store.js';
import type { Segmentation } from './store.js';
import { readCsv, readJsonl, writeCsv, writeJsonl } from './text.js';

export type DataFormat = 'd4rl' | 'minari' | 'csv' | 'jsonl';
export const DATA_FORMATS: readonly DataFormat[] = ['d4rl', 'minari', 'csv', 'jsonl'];

/** By extension; a folder (or a main_data.hdf5) is Minari. Output paths that do not exist yet are judged by name alone. */
export function detectFormat(path: string): DataFormat {
  if (existsSync(path) && statSync(path).isDirectory()) return 'minari';
  if (path.endsWith('main_data.hdf5')) return 'minari';
  const extension = extname(path).toLowerCase();
  if (extension === '.csv') return 'csv';
  if (extension === '.jsonl' || extension === '.ndjson') return 'jsonl';
  if (extension === '.hdf5' || extension === '.h5') return 'd4rl';
  if (extension === '' && !existsSync(path)) return 'minari';
  throw new DataFileError(path, `cannot tell the format from the name; use .hdf5/.h5 (D4RL), .csv, .jsonl or a Minari folder`);
}

export interface LoadOptions {
  /** also read next_observations (only conversion needs them) */
  nextObservations?: boolean;
  /** overrides bounds declared in the file */
  actionBounds?: ActionBounds;
  magnitudeLimit?: number;
  /** warnings become errors */
  strict?: boolean;
  /** bytes the whole dataset may take in memory; defaults to memoryBudgetBytes() (half the cgroup or machine limit) */
  memoryBudgetBytes?: number;
}

export interface LoadedDataset {
  file: string;
  format: DataFormat;
  arrays: TransitionArrays;
  segmentation: Segmentation;
  store: TrajectoryStore;
  findings: Finding[];
  actionBounds?: ActionBounds;
}

/** Bounds a D4RL-layout file may declare as scalar attributes action_low / action_high. */
function declaredD4rlBounds(arrays: TransitionArrays, path: string): ActionBounds | undefined {
  const low = arrays.attributes?.action_low;
  const high = arrays.attributes?.action_high;
  if (typeof low !== 'number' || typeof high !== 'number') return undefined;
  validateActionBounds({ low: [low], high: [high] }, path, 'action_low/action_high');
  return { low: new Float32Array(arrays.actionDim).fill(low), high: new Float32Array(arrays.actionDim).fill(high) };
}

/** Reads and checks a dataset; findings are returned, never thrown. Unreadable files throw DataFileError. */
export async function inspectDataset(path: string, options: LoadOptions = {}): Promise<LoadedDataset> {
  const format = detectFormat(path);
  if (format !== 'minari') regularFileSize(path);
  const readOptions = { nextObservations: options.nextObservations ?? false, ...(options.memoryBudgetBytes === undefined ? {} : { memoryBudgetBytes: options.memoryBudgetBytes }) };
  let arrays: TransitionArrays;
  let findings: Finding[];
  let declaredBounds: ActionBounds | undefined;
  let timeoutsPresent = true;
  let file = path;
  switch (format) {
    case 'd4rl': {
      const result = await readD4rlHdf5WithFindings(path, readOptions);
      ({ arrays, findings, timeoutsPresent } = result);
      declaredBounds = declaredD4rlBounds(arrays, path);
      break;
    }
    case 'minari': {
      const result = await readMinari(path, readOptions);
      ({ arrays, findings } = result);
      declaredBounds = result.actionBounds;
      file = `${resolveMinariDataDir(path) ?? path}/main_data.hdf5`;
      break;
    }
    case 'csv':
      ({ arrays, findings } = await readCsv(path, readOptions));
      break;
    case 'jsonl':
      ({ arrays, findings } = await readJsonl(path, readOptions));
      break;
  }
  // Every reader refuses these itself; this is the format-neutral guarantee for whatever comes next.
  if (arrays.obsDim < 1 || arrays.actionDim < 1) throw new DataFileError(file, `observations and actions need at least one value per step (found ${arrays.obsDim} and ${arrays.actionDim})`);
  const segmentation = segmentEpisodes(arrays.terminals, arrays.timeouts, { timeoutsPresent });
  if (options.actionBounds !== undefined) validateActionBounds(options.actionBounds, file, 'actionBounds');
  const actionBounds = options.actionBounds ?? declaredBounds;
  findings.push(...checkHealth(arrays, segmentation, { file, ...(actionBounds === undefined ? {} : { actionBounds }), ...(options.magnitudeLimit === undefined ? {} : { magnitudeLimit: options.magnitudeLimit }) }));
  const loaded: LoadedDataset = { file, format, arrays, segmentation, store: TrajectoryStore.fromArrays(arrays, segmentation), findings: applyStrict(findings, options.strict ?? false) };
  if (actionBounds !== undefined) loaded.actionBounds = actionBounds;
  return loaded;
}

/** Reads, checks and builds the store; throws DataFileError listing every error finding. */
export async function loadDataset(path: string, options: LoadOptions = {}): Promise<LoadedDataset> {
  const loaded = await inspectDataset(path, options);
  if (hasErrors(loaded.findings)) {
    const errors = loaded.findings.filter((item) => item.severity === 'error');
    throw new DataFileError(path, `${errors.length} health error(s): ${errors.map((item) => formatFinding(item).replace(/^error: /, '')).join('; ')}`);
  }
  return loaded;
}

export interface SaveOptions {
  actionBounds?: ActionBounds;
  compression?: 'gzip' | 'none';
}

export async function saveDataset(path: string, arrays: TransitionArrays, format: DataFormat = detectFormat(path), options: SaveOptions = {}): Promise<void> {
  switch (format) {
    case 'd4rl': {
      const attributes = { ...arrays.attributes };
      const bounds = options.actionBounds;
      // Only uniform bounds fit the scalar attributes; others are not recorded.
      if (bounds !== undefined && bounds.low.every((x) => x === bounds.low[0]) && bounds.high.every((x) => x === bounds.high[0])) {
        attributes.action_low = bounds.low[0]!;
        attributes.action_high = bounds.high[0]!;
      }
      await writeD4rlHdf5(path, { ...arrays, attributes }, { compression: options.compression ?? 'gzip' });
      return;
    }
    case 'minari':
      await writeMinari(path, arrays, options.actionBounds === undefined ? {} : { actionBounds: options.actionBounds });
      return;
    case 'csv':
      writeCsv(path, arrays);
      return;
    case 'jsonl':
      writeJsonl(path, arrays);
      return;
  }
}
