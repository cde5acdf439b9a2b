/**
 * Minari datasets (HDF5 back end): a folder `data/` with `main_data.hdf5` (one group per episode,
 * `episode_<k>`, holding T+1 observations and T actions, rewards, terminations, truncations) and
 * `metadata.json` (Python JSON with bare Infinity). Read into the same flat arrays as D4RL files.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import h5wasm from 'h5wasm/node';
import type { Dataset, Group } from 'h5wasm/node';
import { formatBytes, memoryBudgetBytes } from '../util/memory-budget.js';
import { validateArrayShapes } from './arrays.js';
import type { ReadOptions, TransitionArrays } from './arrays.js';
import { DataFileError } from './errors.js';
import { regularFileSize } from './files.js';
import type { Finding } from './findings.js';
import {
  checkClaimsFitFile,
  checkMemoryBudget,
  datasetPaths,
  float32Bytes,
  getDataset,
  getGroup,
  hdf5Ready,
  numericShape,
  openHdf5ForRead,
  readFlags,
  readFloat32,
  summarizeHdf5Error,
  writeNumeric,
} from './hdf5-access.js';
import type { PlannedDataset } from './hdf5-access.js';
import { validateActionBounds } from './health.js';
import type { ActionBounds } from './health.js';
import { parsePythonJson, stringifyPythonJson } from './json.js';

/** Minari's metadata.json is a few KiB (the spaces and the env spec); anything this large is not metadata. */
export const MAX_METADATA_BYTES = 4 << 20;

export interface MinariReadResult {
  arrays: TransitionArrays;
  findings: Finding[];
  actionBounds?: ActionBounds;
}

/** The data folder of a Minari dataset given the dataset folder, its data folder or main_data.hdf5. */
export function resolveMinariDataDir(path: string): string | undefined {
  if (basename(path) === 'main_data.hdf5') return dirname(path);
  for (const candidate of [join(path, 'data'), path]) {
    if (existsSync(join(candidate, 'main_data.hdf5'))) return candidate;
  }
  return undefined;
}

interface EpisodePlan {
  name: string;
  steps: number;
  observationKeys: string[];
}

/** A Box space's bounds from metadata.json (the space is itself a JSON string there). */
function boxBounds(space: unknown): { low: number[]; high: number[]; shape: number[] } | undefined {
  const parsed = typeof space === 'string' ? parsePythonJson(space) : space;
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const box = parsed as { type?: unknown; low?: unknown; high?: unknown; shape?: unknown };
  if (box.type !== 'Box' || !Array.isArray(box.shape)) return undefined;
  const flat = (value: unknown): number[] => (Array.isArray(value) ? value.flat(8).map(Number) : [Number(value)]);
  return { low: flat(box.low), high: flat(box.high), shape: box.shape.map(Number) };
}

function readMetadata(dataDir: string, findings: Finding[]): Record<string, unknown> {
  const path = join(dataDir, 'metadata.json');
  if (!existsSync(path)) {
    findings.push({ code: 'info-dropped', severity: 'warning', file: path, key: 'metadata.json', index: -1, count: 0, message: 'missing; action bounds and dataset id are unknown' });
    return {};
  }
  const size = regularFileSize(path);
  if (size > MAX_METADATA_BYTES) throw new DataFileError(path, `is ${formatBytes(size)}; Minari metadata is a few KiB, refusing to read more than ${formatBytes(MAX_METADATA_BYTES)}`);
  try {
    const parsed = parsePythonJson(readFileSync(path, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new DataFileError(path, `unreadable metadata: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Observations as one [rows, cols] block: a dataset, or a Dict-space group whose leaves are concatenated in key order. */
function observationColumns(episode: Group, fileName: string, key: string): Array<{ dataset: Dataset; key: string; rows: number; cols: number }> {
  const direct = episode.get('observations');
  if (direct instanceof h5wasm.Dataset) {
    const shape = numericShape(direct, fileName, key);
    return [{ dataset: direct, key, ...shape }];
  }
  const group = getGroup(episode, fileName, 'observations');
  if (group === undefined) throw new DataFileError(fileName, 'episode has no observations', key);
  return datasetPaths(group, fileName).map((relative) => {
    const dataset = getDataset(group, fileName, relative)!;
    return { dataset, key: `${key}/${relative}`, ...numericShape(dataset, fileName, `${key}/${relative}`) };
  });
}

/** Episode groups in id order; two names for one id (episode_0 and episode_00) make the file ambiguous. */
function episodeNames(names: readonly string[], fileName: string, findings: Finding[]): string[] {
  const byId = new Map<number, string>();
  const ignored: string[] = [];
  for (const name of names) {
    if (!/^episode_\d+$/.test(name)) {
      ignored.push(name);
      continue;
    }
    const id = Number(name.slice(8));
    const other = byId.get(id);
    if (other !== undefined) throw new DataFileError(fileName, `${other} and ${name} both name episode ${id}; refusing an ambiguous file`, name);
    byId.set(id, name);
  }
  if (ignored.length > 0) {
    findings.push({ code: 'info-dropped', severity: 'warning', file: fileName, key: ignored[0]!, index: -1, count: ignored.length, message: `${ignored.length} top-level keys are not episode_<k> groups (${ignored.slice(0, 3).join(', ')}${ignored.length > 3 ? ', ...' : ''}); not read` });
  }
  return [...byId].sort(([a], [b]) => a - b).map(([, name]) => name);
}

/**
 * Reads a Minari dataset into flat arrays. The first pass reads only shapes; the whole dataset
 * (every episode, every array) is then checked against the memory budget and against what the
 * file can hold before any values are read.
 */
export async function readMinari(path: string, options: ReadOptions = {}): Promise<MinariReadResult> {
  const dataDir = resolveMinariDataDir(path);
  if (dataDir === undefined) throw new DataFileError(path, 'not a Minari dataset (no main_data.hdf5 in it or in its data/ folder)');
  const fileName = join(dataDir, 'main_data.hdf5');
  const findings: Finding[] = [];
  const metadata = readMetadata(dataDir, findings);
  const { file, size } = await openHdf5ForRead(fileName);
  try {
    const names = episodeNames(file.keys(), fileName, findings);
    if (names.length === 0) throw new DataFileError(fileName, 'no episode_<k> groups (is this a Minari main_data.hdf5?)');

    // First pass: shapes only, to allocate every column once.
    const plans: EpisodePlan[] = [];
    let obsDim = -1;
    let actionDim = -1;
    let observationKeys: string[] = [];
    const infoDims = new Map<string, number>();
    const droppedInfos = new Set<string>();
    let empty = 0;
    let firstEmpty = -1;
    const planned: PlannedDataset[] = [];
    let largestEpisodeBytes = 0;
    for (const name of names) {
      const episode = getGroup(file, fileName, name)!;
      const actions = getDataset(episode, fileName, 'actions');
      if (actions === undefined) throw new DataFileError(fileName, 'episode has no actions', `${name}/actions`);
      const actionShape = numericShape(actions, fileName, `${name}/actions`);
      const steps = actionShape.rows;
      const columns = observationColumns(episode, fileName, `${name}/observations`);
      const cols = columns.reduce((sum, column) => sum + column.cols, 0);
      if (cols === 0) throw new DataFileError(fileName, 'observations have no values per step', `${name}/observations`);
      for (const column of columns) {
        if (column.rows !== steps + 1) throw new DataFileError(fileName, `has ${column.rows} rows for ${steps} steps; Minari stores T+1 observations`, column.key);
      }
      let episodeBytes = float32Bytes(actionShape);
      planned.push({ dataset: actions, key: `${name}/actions`, shape: actionShape });
      for (const column of columns) {
        planned.push({ dataset: column.dataset, key: column.key, shape: { rows: column.rows, cols: column.cols } });
        episodeBytes += float32Bytes(column);
      }
      for (const key of ['rewards', 'terminations', 'truncations']) {
        const dataset = getDataset(episode, fileName, key);
        if (dataset === undefined) throw new DataFileError(fileName, 'required key is missing', `${name}/${key}`);
        const shape = numericShape(dataset, fileName, `${name}/${key}`);
        if (shape.rows !== steps) throw new DataFileError(fileName, `has ${shape.rows} rows for ${steps} actions`, `${name}/${key}`);
        planned.push({ dataset, key: `${name}/${key}`, shape });
        episodeBytes += float32Bytes(shape);
      }
      if (steps === 0) {
        if (firstEmpty < 0) firstEmpty = Number(name.slice(8));
        empty++;
        continue;
      }
      if (obsDim < 0) {
        obsDim = cols;
        actionDim = actionShape.cols;
        observationKeys = columns.map((column) => `${column.key.slice(name.length + 'observations'.length + 2) || 'observations'}:${column.cols}`);
      } else if (cols !== obsDim || actionShape.cols !== actionDim) {
        throw new DataFileError(fileName, `observation/action width ${cols}/${actionShape.cols} differs from the first episode's ${obsDim}/${actionDim}`, name);
      }
      const infos = getGroup(episode, fileName, 'infos');
      const present = new Set<string>();
      if (infos !== undefined) {
        for (const relative of datasetPaths(infos, fileName)) {
          const dataset = getDataset(infos, fileName, relative)!;
          const key = `${name}/infos/${relative}`;
          let shape;
          try {
            shape = numericShape(dataset, fileName, key);
          } catch {
            droppedInfos.add(relative);
            continue;
          }
          present.add(relative);
          planned.push({ dataset, key, shape });
          episodeBytes += float32Bytes(shape);
          if (shape.rows < steps) droppedInfos.add(relative);
          const known = infoDims.get(relative);
          if (plans.length === 0 && known === undefined) infoDims.set(relative, shape.cols);
          else if (known !== shape.cols) droppedInfos.add(relative);
        }
      }
      for (const key of infoDims.keys()) if (!present.has(key)) droppedInfos.add(key);
      largestEpisodeBytes = Math.max(largestEpisodeBytes, episodeBytes);
      plans.push({ name, steps, observationKeys: columns.map((column) => column.key) });
    }
    if (empty > 0) {
      findings.push({ code: 'empty-episode', severity: 'warning', file: fileName, key: `episode_${firstEmpty}`, index: -1, count: empty, message: `${empty} episodes have no steps; dropped` });
    }
    for (const key of droppedInfos) {
      infoDims.delete(key);
      findings.push({ code: 'info-dropped', severity: 'warning', file: fileName, key: `infos/${key}`, index: -1, count: 0, message: 'missing, non-numeric or of a different width in some episodes; not read' });
    }
    if (observationKeys.length > 1) {
      findings.push({ code: 'observation-layout', severity: 'info', file: fileName, key: 'observations', index: -1, count: 0, message: `Dict observations concatenated in key order: ${observationKeys.join(', ')}` });
    }

    const n = plans.reduce((sum, plan) => sum + plan.steps, 0);
    if (obsDim < 0) {
      obsDim = 1;
      actionDim = 1;
    }
    // The flat arrays for all episodes, plus one episode's arrays read before they are copied in.
    const infoWidth = [...infoDims.values()].reduce((sum, dim) => sum + dim, 0);
    const flatBytes = n * (4 * (obsDim * (options.nextObservations === true ? 2 : 1) + actionDim + 1 + infoWidth) + 2);
    checkMemoryBudget(flatBytes + largestEpisodeBytes, options.memoryBudgetBytes ?? memoryBudgetBytes(), fileName, `reading ${plans.length} episodes (${n} steps)`);
    checkClaimsFitFile(planned, fileName, size);
    const arrays: TransitionArrays = {
      observations: new Float32Array(n * obsDim),
      actions: new Float32Array(n * actionDim),
      rewards: new Float32Array(n),
      terminals: new Uint8Array(n),
      timeouts: new Uint8Array(n),
      obsDim,
      actionDim,
    };
    if (options.nextObservations === true) arrays.nextObservations = new Float32Array(n * obsDim);
    const infoArrays: Record<string, { data: Float32Array; dim: number }> = {};
    for (const [key, dim] of infoDims) infoArrays[key] = { data: new Float32Array(n * dim), dim };

    let row = 0;
    let withoutEnd = 0;
    let firstWithoutEnd = -1;
    for (const plan of plans) {
      const episode = getGroup(file, fileName, plan.name)!;
      const steps = plan.steps;
      let column = 0;
      for (const key of plan.observationKeys) {
        const dataset = getDataset(file, fileName, key)!;
        const shape = numericShape(dataset, fileName, key);
        const values = readFloat32(dataset, fileName, key, shape);
        for (let t = 0; t <= steps; t++) {
          const source = values.subarray(t * shape.cols, (t + 1) * shape.cols);
          if (t < steps) arrays.observations.set(source, (row + t) * obsDim + column);
          if (t > 0 && arrays.nextObservations !== undefined) arrays.nextObservations.set(source, (row + t - 1) * obsDim + column);
        }
        column += shape.cols;
      }
      const read = (key: string): Float32Array => readFloat32(getDataset(episode, fileName, key)!, fileName, `${plan.name}/${key}`);
      arrays.actions.set(read('actions'), row * actionDim);
      arrays.rewards.set(read('rewards'), row);
      arrays.terminals.set(readFlags(getDataset(episode, fileName, 'terminations')!, fileName, `${plan.name}/terminations`).flags, row);
      arrays.timeouts.set(readFlags(getDataset(episode, fileName, 'truncations')!, fileName, `${plan.name}/truncations`).flags, row);
      const last = row + steps - 1;
      if (arrays.terminals[last] === 0 && arrays.timeouts[last] === 0) {
        // Without a flag the flat layout would merge this episode into the next one.
        arrays.timeouts[last] = 1;
        if (firstWithoutEnd < 0) firstWithoutEnd = last;
        withoutEnd++;
      }
      for (const [key, info] of Object.entries(infoArrays)) {
        const values = read(`infos/${key}`);
        // Minari records the reset info too, so row t is the info that came with observation t.
        info.data.set(values.subarray(0, steps * info.dim), row * info.dim);
      }
      row += steps;
    }
    if (withoutEnd > 0) {
      findings.push({
        code: 'episode-without-end',
        severity: 'info',
        file: fileName,
        key: 'terminations/truncations',
        index: firstWithoutEnd,
        count: withoutEnd,
        message: `${withoutEnd} episodes end with neither termination nor truncation; read as truncated`,
      });
    }
    if (Object.keys(infoArrays).length > 0) arrays.infos = infoArrays;

    const attributes: Record<string, string | number> = {};
    if (typeof metadata.dataset_id === 'string') attributes.dataset_id = metadata.dataset_id;
    if (typeof metadata.algorithm_name === 'string') attributes.algorithm_name = metadata.algorithm_name;
    if (typeof metadata.env_spec === 'string') {
      try {
        const spec = parsePythonJson(metadata.env_spec) as { id?: unknown };
        if (typeof spec.id === 'string') attributes.env_id = spec.id;
      } catch {
        // env_spec is informational; a malformed one does not make the data unusable
      }
    }
    if (Object.keys(attributes).length > 0) arrays.attributes = attributes;

    const result: MinariReadResult = { arrays, findings };
    const actionBox = boxBounds(metadata.action_space);
    // Unbounded Box spaces (-inf..inf everywhere, as the writer records unknown bounds) declare nothing to check.
    if (actionBox !== undefined && actionBox.low.length === actionDim && actionBox.high.length === actionDim && !(actionBox.low.every((x) => x === -Infinity) && actionBox.high.every((x) => x === Infinity))) {
      const bounds = { low: Float64Array.from(actionBox.low), high: Float64Array.from(actionBox.high) };
      validateActionBounds(bounds, join(dataDir, 'metadata.json'), 'action_space');
      result.actionBounds = { low: Float32Array.from(bounds.low), high: Float32Array.from(bounds.high) };
    }
    return result;
  } catch (error) {
    if (error instanceof DataFileError) throw error;
    throw new DataFileError(fileName, `cannot read: ${summarizeHdf5Error(error)}`);
  } finally {
    file.close();
  }
}

export interface MinariWriteOptions {
  datasetId?: string;
  actionBounds?: ActionBounds;
}

/**
 * Writes a Minari dataset folder (data/main_data.hdf5 + data/metadata.json). Episodes come from
 * the flags: each ends at a terminal or timeout row; rows after the last one are not written.
 * Minari needs the observation after the last step: next_observations supplies it when present,
 * otherwise the last observation is repeated (recorded in metadata as stitch_final_observation).
 */
export async function writeMinari(path: string, arrays: TransitionArrays, options: MinariWriteOptions = {}): Promise<void> {
  const n = validateArrayShapes(arrays);
  await hdf5Ready();
  const { obsDim, actionDim } = arrays;
  const ends: number[] = [];
  for (let i = 0; i < n; i++) if (arrays.terminals[i] !== 0 || arrays.timeouts[i] !== 0) ends.push(i + 1);

  const staging = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  mkdirSync(join(staging, 'data'), { recursive: true });
  try {
    const file = new h5wasm.File(join(staging, 'data', 'main_data.hdf5'), 'w');
    try {
      let start = 0;
      for (let k = 0; k < ends.length; k++) {
        const end = ends[k]!;
        const steps = end - start;
        const group = file.create_group(`episode_${k}`);
        group.create_attribute('id', k);
        group.create_attribute('total_steps', steps);
        const observations = new Float32Array((steps + 1) * obsDim);
        observations.set(arrays.observations.subarray(start * obsDim, end * obsDim));
        const finalSource = arrays.nextObservations ?? arrays.observations;
        observations.set(finalSource.subarray((end - 1) * obsDim, end * obsDim), steps * obsDim);
        writeNumeric(group, 'observations', observations, steps + 1, obsDim, 'none', false);
        writeNumeric(group, 'actions', arrays.actions.slice(start * actionDim, end * actionDim), steps, actionDim, 'none', false);
        writeNumeric(group, 'rewards', Float64Array.from(arrays.rewards.subarray(start, end)), steps, 1, 'none');
        const terminations = arrays.terminals.slice(start, end);
        const truncations = arrays.timeouts.slice(start, end);
        // Minari episodes end with exactly one reason; a terminal wins over a timeout.
        if (terminations[steps - 1] !== 0) truncations[steps - 1] = 0;
        writeNumeric(group, 'terminations', terminations, steps, 1, 'none');
        writeNumeric(group, 'truncations', truncations, steps, 1, 'none');
        const infos = Object.entries(arrays.infos ?? {});
        if (infos.length > 0) {
          const infoGroup = group.create_group('infos');
          for (const [key, info] of infos) {
            // T+1 rows like Minari's own files; the info after the last step is not known, so the last one repeats.
            const values = new Float32Array((steps + 1) * info.dim);
            values.set(info.data.subarray(start * info.dim, end * info.dim));
            values.set(info.data.subarray((end - 1) * info.dim, end * info.dim), steps * info.dim);
            writeNumeric(infoGroup, key.replaceAll('/', '_'), values, steps + 1, info.dim, 'none');
          }
        }
        start = end;
      }
    } finally {
      file.close();
    }
    const box = (shape: number, low: ArrayLike<number>, high: ArrayLike<number>): string =>
      stringifyPythonJson({ type: 'Box', dtype: 'float32', shape: [shape], low: Array.from(low), high: Array.from(high) }, 0);
    const bounds = options.actionBounds;
    const totalSteps = ends.at(-1) ?? 0;
    const metadata: Record<string, unknown> = {
      dataset_id: options.datasetId ?? (typeof arrays.attributes?.dataset_id === 'string' ? arrays.attributes.dataset_id : 'stitch/converted-v0'),
      total_episodes: ends.length,
      total_steps: totalSteps,
      data_format: 'hdf5',
      observation_space: box(obsDim, new Array<number>(obsDim).fill(Number.NEGATIVE_INFINITY), new Array<number>(obsDim).fill(Number.POSITIVE_INFINITY)),
      action_space: box(actionDim, bounds?.low ?? new Array<number>(actionDim).fill(Number.NEGATIVE_INFINITY), bounds?.high ?? new Array<number>(actionDim).fill(Number.POSITIVE_INFINITY)),
      minari_version: '0.5.3',
      author: ['Stitch'],
      stitch_final_observation: arrays.nextObservations !== undefined ? 'next_observations' : 'repeated',
      stitch_dropped_trailing_steps: n - totalSteps,
    };
    if (typeof arrays.attributes?.env_id === 'string') metadata.stitch_env_id = arrays.attributes.env_id;
    writeFileSync(join(staging, 'data', 'metadata.json'), stringifyPythonJson(metadata));
    replaceDirectory(staging, path);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    if (error instanceof Error && /HDF5-DIAG/.test(error.message)) throw new DataFileError(path, `cannot write: ${summarizeHdf5Error(error)}`);
    throw error;
  }
}

/** Moves a finished folder into place; an existing folder is swapped out first and removed after. */
function replaceDirectory(staging: string, target: string): void {
  if (!existsSync(target)) {
    renameSync(staging, target);
    return;
  }
  if (!statSync(target).isDirectory()) throw new DataFileError(target, 'exists and is not a folder; refusing to replace it with a Minari dataset');
  const old = `${staging}.old`;
  renameSync(target, old);
  renameSync(staging, target);
  rmSync(old, { recursive: true, force: true });
}
