/**
 * D4RL-layout HDF5 files: flat arrays, one dataset per key, `infos/<key>` for extras. The guarded
 * h5wasm access this reader shares with the Minari reader lives in hdf5-access.ts.
 */
import type { Dataset, Group } from 'h5wasm/node';
import { memoryBudgetBytes } from '../util/memory-budget.js';
import type { ReadOptions, TransitionArrays } from './arrays.js';
import { validateArrayShapes } from './arrays.js';
import { DataFileError } from './errors.js';
import type { Finding } from './findings.js';
import {
  checkClaimsFitFile,
  checkMemoryBudget,
  datasetPaths,
  float32Bytes,
  getDataset,
  getGroup,
  numericShape,
  openHdf5ForRead,
  readFlags,
  readFloat32,
  readScalarAttributes,
  writeHdf5Atomically,
  writeNumeric,
} from './hdf5-access.js';
import type { NumericShape, PlannedDataset } from './hdf5-access.js';

/** What the reader found in the file besides the arrays: problems and decisions, for the health report. */
export interface D4rlReadResult {
  arrays: TransitionArrays;
  findings: Finding[];
  /** false when the file has no `timeouts` key (segmentation then falls back to the 1000-step rule) */
  timeoutsPresent: boolean;
}

function finding(partial: Omit<Finding, 'count'> & { count?: number }): Finding {
  return { count: 1, ...partial };
}

const KNOWN_TOP_LEVEL = new Set(['observations', 'actions', 'rewards', 'terminals', 'timeouts', 'next_observations']);

/**
 * Reads a D4RL-layout file and reports what it had to decide; structural damage throws DataFileError.
 * Every dataset's shape is read first and the whole read is checked against the memory budget and
 * against what the file can hold before any values are read; keys longer than the shortest
 * required key are read only up to its length, so the extra rows are never decompressed.
 */
export async function readD4rlHdf5WithFindings(path: string, options: ReadOptions = {}): Promise<D4rlReadResult> {
  const { file, size } = await openHdf5ForRead(path);
  try {
    const findings: Finding[] = [];
    const required = (key: string): Dataset => {
      const dataset = getDataset(file, path, key);
      if (dataset === undefined) throw new DataFileError(path, 'required key is missing (is this a D4RL-layout file?)', key);
      return dataset;
    };
    const observationsSet = required('observations');
    const actionsSet = required('actions');
    const rewardsSet = required('rewards');
    const terminalsSet = required('terminals');
    const timeoutsSet = getDataset(file, path, 'timeouts');

    const obsShape = numericShape(observationsSet, path, 'observations');
    const actionShape = numericShape(actionsSet, path, 'actions');
    const rewardShape = numericShape(rewardsSet, path, 'rewards');
    if (rewardShape.cols !== 1) throw new DataFileError(path, `expected one reward per row, found shape [${rewardShape.rows}, ${rewardShape.cols}]`, 'rewards');
    const terminalShape = numericShape(terminalsSet, path, 'terminals');
    const timeoutShape = timeoutsSet === undefined ? undefined : numericShape(timeoutsSet, path, 'timeouts');

    const lengths: Array<[string, number]> = [
      ['observations', obsShape.rows],
      ['actions', actionShape.rows],
      ['rewards', rewardShape.rows],
      ['terminals', terminalShape.rows],
    ];
    if (timeoutShape !== undefined) lengths.push(['timeouts', timeoutShape.rows]);
    const n = Math.min(...lengths.map(([, rows]) => rows));
    for (const [key, rows] of lengths) {
      if (rows !== n) {
        findings.push(
          finding({
            code: 'length-mismatch',
            severity: 'error',
            file: path,
            key,
            index: n,
            count: rows - n,
            message: `has ${rows} rows but the shortest required key has ${n} (${lengths.map(([k, r]) => `${k} ${r}`).join(', ')}); only the first ${n} rows are read`,
          }),
        );
      }
    }

    // Plan every read at n rows, check the plan, then read.
    const firstRows = (shape: NumericShape): NumericShape => ({ rows: n, cols: shape.cols });
    const plan: PlannedDataset[] = [
      { dataset: observationsSet, key: 'observations', shape: firstRows(obsShape) },
      { dataset: actionsSet, key: 'actions', shape: firstRows(actionShape) },
      { dataset: rewardsSet, key: 'rewards', shape: firstRows(rewardShape) },
      { dataset: terminalsSet, key: 'terminals', shape: firstRows(terminalShape) },
    ];
    if (timeoutsSet !== undefined && timeoutShape !== undefined) plan.push({ dataset: timeoutsSet, key: 'timeouts', shape: firstRows(timeoutShape) });

    let nextPlan: PlannedDataset | undefined;
    if (options.nextObservations === true) {
      const nextSet = getDataset(file, path, 'next_observations');
      if (nextSet !== undefined) {
        let problem: string | undefined;
        try {
          const nextShape = numericShape(nextSet, path, 'next_observations');
          if (nextShape.rows >= n && nextShape.cols === obsShape.cols) nextPlan = { dataset: nextSet, key: 'next_observations', shape: firstRows(nextShape) };
          else problem = `shape [${nextShape.rows}, ${nextShape.cols}] does not match observations [${n}, ${obsShape.cols}]`;
        } catch (error) {
          if (!(error instanceof DataFileError)) throw error;
          problem = error.problem;
        }
        if (problem !== undefined) findings.push(finding({ code: 'info-dropped', severity: 'warning', file: path, key: 'next_observations', index: -1, message: `${problem}; not read` }));
      }
    }

    const infoPlans: Array<{ relative: string; planned: PlannedDataset }> = [];
    const infosGroup = getGroup(file, path, 'infos');
    if (infosGroup !== undefined) {
      for (const relative of datasetPaths(infosGroup, path)) {
        const key = `infos/${relative}`;
        const dataset = getDataset(file, path, key)!;
        let shape: NumericShape;
        try {
          shape = numericShape(dataset, path, key);
        } catch (error) {
          const reason = error instanceof DataFileError ? error.problem : String(error);
          findings.push(finding({ code: 'info-dropped', severity: 'warning', file: path, key, index: -1, message: `not read: ${reason}` }));
          continue;
        }
        if (shape.rows < n) {
          findings.push(finding({ code: 'info-dropped', severity: 'warning', file: path, key, index: -1, message: `has ${shape.rows} rows for ${n} transitions; not read` }));
          continue;
        }
        infoPlans.push({ relative, planned: { dataset, key, shape: firstRows(shape) } });
      }
    }

    const everything = [...plan, ...(nextPlan === undefined ? [] : [nextPlan]), ...infoPlans.map((info) => info.planned)];
    // Flags are read as float32 and then kept as bytes: 5 bytes a row at the peak.
    const bytes = everything.reduce((sum, item) => sum + float32Bytes(item.shape), 0) + 2 * n;
    checkMemoryBudget(bytes, options.memoryBudgetBytes ?? memoryBudgetBytes(), path, `reading ${n} rows`);
    checkClaimsFitFile(everything, path, size);

    const read = (planned: PlannedDataset): Float32Array => readFloat32(planned.dataset, path, planned.key, planned.shape);
    const observations = read(plan[0]!);
    const actions = read(plan[1]!);
    const rewards = read(plan[2]!);
    const flagColumn = (dataset: Dataset, key: string): Uint8Array => {
      const { flags, nonBinary, firstNonBinary } = readFlags(dataset, path, key, n);
      if (nonBinary > 0) {
        findings.push(
          finding({ code: 'non-binary-flag', severity: 'warning', file: path, key, index: firstNonBinary, count: nonBinary, message: `${nonBinary} values are neither 0 nor 1; every non-zero value is read as set` }),
        );
      }
      return flags;
    };
    const terminals = flagColumn(terminalsSet, 'terminals');
    const timeouts = timeoutsSet === undefined ? new Uint8Array(n) : flagColumn(timeoutsSet, 'timeouts');

    const arrays: TransitionArrays = { observations, actions, rewards, terminals, timeouts, obsDim: obsShape.cols, actionDim: actionShape.cols };
    if (nextPlan !== undefined) arrays.nextObservations = read(nextPlan);
    if (infosGroup !== undefined) arrays.infos = Object.fromEntries(infoPlans.map(({ relative, planned }) => [relative, { data: read(planned), dim: planned.shape.cols }]));

    const unknown = file.keys().filter((key) => !KNOWN_TOP_LEVEL.has(key) && key !== 'infos' && key !== 'metadata');
    for (const key of unknown) {
      findings.push(finding({ code: 'info-dropped', severity: 'info', file: path, key, index: -1, message: 'not a D4RL key; ignored' }));
    }

    const attributes = readScalarAttributes(file, path);
    if (Object.keys(attributes).length > 0) arrays.attributes = attributes;

    if (timeoutsSet === undefined) {
      findings.push(
        finding({ code: 'no-timeouts-key', severity: 'info', file: path, key: 'timeouts', index: -1, count: n, message: 'key absent: episodes end at a terminal or after 1000 steps, as the reference loaders do' }),
      );
    }
    return { arrays, findings, timeoutsPresent: timeoutsSet !== undefined };
  } finally {
    file.close();
  }
}

/** Reads a D4RL-layout file; throws DataFileError when it is unreadable or its arrays disagree in length. */
export async function readD4rlHdf5(path: string): Promise<TransitionArrays> {
  const { arrays, findings } = await readD4rlHdf5WithFindings(path);
  const mismatch = findings.find((item) => item.code === 'length-mismatch');
  if (mismatch !== undefined) throw new DataFileError(path, mismatch.message, mismatch.key);
  return arrays;
}

export interface Hdf5WriteOptions {
  /** gzip (level 4, as h5py's default) like the published D4RL files, or none for speed */
  compression?: 'gzip' | 'none';
}

/** Writes the D4RL layout (flags as 1-byte booleans, gzip by default) atomically. */
export async function writeD4rlHdf5(path: string, arrays: TransitionArrays, options: Hdf5WriteOptions = {}): Promise<void> {
  const n = validateArrayShapes(arrays);
  const compression = options.compression ?? 'gzip';
  await writeHdf5Atomically(path, (file) => {
    writeNumeric(file, 'observations', arrays.observations, n, arrays.obsDim, compression, false);
    writeNumeric(file, 'actions', arrays.actions, n, arrays.actionDim, compression, false);
    writeNumeric(file, 'rewards', arrays.rewards, n, 1, compression);
    writeNumeric(file, 'terminals', arrays.terminals, n, 1, compression);
    writeNumeric(file, 'timeouts', arrays.timeouts, n, 1, compression);
    if (arrays.nextObservations !== undefined) writeNumeric(file, 'next_observations', arrays.nextObservations, n, arrays.obsDim, compression, false);
    const infos = Object.entries(arrays.infos ?? {});
    if (infos.length > 0) {
      const group = file.create_group('infos');
      for (const [key, info] of infos) {
        const parts = key.split('/');
        let parent: Group = group;
        for (const part of parts.slice(0, -1)) parent = getGroup(parent, path, part) ?? parent.create_group(part);
        writeNumeric(parent, parts.at(-1)!, info.data, n, info.dim, compression);
      }
    }
    for (const [name, value] of Object.entries(arrays.attributes ?? {})) file.create_attribute(name, value);
  });
}
