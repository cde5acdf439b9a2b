/**
 * One entry point for every format: detect it, read it, segment it into episodes, run the health
 * checks and build the trajectory store. `inspectDataset` reports; `loadDataset` refuses data
 * with error findings (warnings too with `strict`).
 */
import { existsSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { DataFileError } from './errors.js';
import { applyStrict, formatFinding, hasErrors } from './findings.js';
import type { Finding } from './findings.js';
import { readD4rlHdf5WithFindings, writeD4rlHdf5 } from './hdf5.js';
import type { D4rlArrays } from './hdf5.js';
import { checkHealth } from './health.js';
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
}

export interface LoadedDataset {
  file: string;
  format: DataFormat;
  arrays: D4rlArrays;
  segmentation: Segmentation;
  store: TrajectoryStore;
  findings: Finding[];
  actionBounds?: ActionBounds;
}

/** Bounds a D4RL-layout file may declare as scalar attributes action_low / action_high. */
function declaredD4rlBounds(arrays: D4rlArrays): ActionBounds | undefined {
  const low = arrays.attributes?.action_low;
  const high = arrays.attributes?.action_high;
  if (typeof low !== 'number' || typeof high !== 'number') return undefined;
  return { low: new Float32Array(arrays.actionDim).fill(low), high: new Float32Array(arrays.actionDim).fill(high) };
}

/** Reads and checks a dataset; findings are returned, never thrown. Unreadable files throw DataFileError. */
export async function inspectDataset(path: string, options: LoadOptions = {}): Promise<LoadedDataset> {
  const format = detectFormat(path);
  if (format !== 'minari' && !existsSync(path)) throw new DataFileError(path, 'no such file');
  let arrays: D4rlArrays;
  let findings: Finding[];
  let declaredBounds: ActionBounds | undefined;
  let timeoutsPresent = true;
  let file = path;
  switch (format) {
    case 'd4rl': {
      const result = await readD4rlHdf5WithFindings(path, { nextObservations: options.nextObservations ?? false });
      ({ arrays, findings, timeoutsPresent } = result);
      declaredBounds = declaredD4rlBounds(arrays);
      break;
    }
    case 'minari': {
      const result = await readMinari(path, { nextObservations: options.nextObservations ?? false });
      ({ arrays, findings } = result);
      declaredBounds = result.actionBounds;
      file = `${resolveMinariDataDir(path) ?? path}/main_data.hdf5`;
      break;
    }
    case 'csv':
      ({ arrays, findings } = readCsv(path));
      break;
    case 'jsonl':
      ({ arrays, findings } = readJsonl(path));
      break;
  }
  const segmentation = segmentEpisodes(arrays.terminals, arrays.timeouts, { timeoutsPresent });
  const actionBounds = options.actionBounds ?? declaredBounds;
  findings.push(...checkHealth(arrays, segmentation, { file, ...(actionBounds === undefined ? {} : { actionBounds }), ...(options.magnitudeLimit === undefined ? {} : { magnitudeLimit: options.magnitudeLimit }) }));
  const loaded: LoadedDataset = { file, format, arrays, segmentation, store: TrajectoryStore.fromD4rl(arrays, segmentation), findings: applyStrict(findings, options.strict ?? false) };
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

export async function saveDataset(path: string, arrays: D4rlArrays, format: DataFormat = detectFormat(path), options: SaveOptions = {}): Promise<void> {
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
