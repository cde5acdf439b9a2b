/**
 * D4RL-layout HDF5 files (flat arrays, one dataset per key, `infos/<key>` for extras) read and
 * written through h5wasm, plus the guarded h5wasm helpers the Minari reader shares.
 *
 * Memory: h5wasm copies every read out of the WebAssembly heap (which can grow to 2 GiB and never
 * shrinks), so large datasets are read in row blocks of a few MiB straight into one preallocated
 * Float32Array; the wasm heap stays small and the data exists once in JS memory.
 */
import { closeSync, openSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import h5wasm from 'h5wasm/node';
import type { Dataset, File as H5File, Group } from 'h5wasm/node';
import { DataFileError } from './errors.js';
import type { Finding } from './findings.js';

export interface D4rlArrays {
  observations: Float32Array; // [n, obsDim] row-major
  actions: Float32Array; // [n, actionDim]
  rewards: Float32Array; // [n]
  terminals: Uint8Array; // [n], 0/1
  timeouts: Uint8Array; // [n], 0/1
  obsDim: number;
  actionDim: number;
  infos?: Record<string, { data: Float32Array; dim: number }>; // written as infos/<key>
  attributes?: Record<string, string | number>; // file-level metadata (e.g. env id, generator, seed)
  /** [n, obsDim]; read only on request (no method trains on it), written when present */
  nextObservations?: Float32Array;
}

export interface D4rlReadOptions {
  /** also read `next_observations` (for conversion; training never needs it) */
  nextObservations?: boolean;
}

/** What the reader found in the file besides the arrays: problems and decisions, for the health report. */
export interface D4rlReadResult {
  arrays: D4rlArrays;
  findings: Finding[];
  /** false when the file has no `timeouts` key (segmentation then falls back to the 1000-step rule) */
  timeoutsPresent: boolean;
}

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
/** Read blocks of about this many bytes so the wasm heap stays small. */
const READ_BLOCK_BYTES = 8 << 20;
const H5T_INTEGER = 0;
const H5T_FLOAT = 1;
const H5T_ENUM = 8;

let readyPromise: Promise<void> | undefined;

/** Loads the HDF5 wasm module once and makes HDF5 errors throw instead of printing to stderr. */
export function hdf5Ready(): Promise<void> {
  readyPromise ??= h5wasm.ready.then((module) => {
    module.activate_throwing_error_handler();
  });
  return readyPromise;
}

/** The innermost reason from an HDF5 error stack ("truncated file: eof = ..."), on one line. */
export function summarizeHdf5Error(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const reasons = [...text.matchAll(/#\d+: .*? in [\w.]+\(\): (.*)$/gm)].map((match) => match[1]?.trim() ?? '');
  const innermost = reasons.at(-1);
  if (innermost !== undefined && innermost.length > 0) return innermost;
  return text.split('\n')[0]?.trim() || 'unknown HDF5 error';
}

function hasHdf5Signature(path: string, size: number): boolean {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(HDF5_SIGNATURE.length);
    // The superblock may follow a user block of 512, 1024, 2048, ... bytes.
    for (let offset = 0; offset + HDF5_SIGNATURE.length <= size; offset = offset === 0 ? 512 : offset * 2) {
      readSync(fd, buffer, 0, buffer.length, offset);
      if (HDF5_SIGNATURE.every((byte, i) => buffer[i] === byte)) return true;
    }
    return false;
  } finally {
    closeSync(fd);
  }
}

/** Opens an HDF5 file for reading; every failure becomes a one-line DataFileError. */
export async function openHdf5ForRead(path: string): Promise<H5File> {
  await hdf5Ready();
  let size: number;
  try {
    const stats = statSync(path);
    if (!stats.isFile()) throw new DataFileError(path, 'not a regular file');
    size = stats.size;
  } catch (error) {
    if (error instanceof DataFileError) throw error;
    throw new DataFileError(path, 'cannot read the file (does it exist?)');
  }
  if (!hasHdf5Signature(path, size)) throw new DataFileError(path, 'not an HDF5 file (no HDF5 signature)');
  try {
    return new h5wasm.File(path, 'r');
  } catch (error) {
    throw new DataFileError(path, `corrupt or truncated HDF5 file: ${summarizeHdf5Error(error)}`);
  }
}

function getEntity<T>(file: H5File | Group, fileName: string, key: string, kind: abstract new (...args: never[]) => T, expected: string): T | undefined {
  let entity: unknown;
  try {
    entity = file.get(key);
  } catch (error) {
    throw new DataFileError(fileName, `cannot read: ${summarizeHdf5Error(error)}`, key);
  }
  if (entity === null || entity === undefined) return undefined;
  if (!(entity instanceof kind)) throw new DataFileError(fileName, expected, key);
  return entity;
}

/** The dataset at `key`, or undefined when absent; a group or link there is an error. */
export function getDataset(file: H5File | Group, fileName: string, key: string): Dataset | undefined {
  return getEntity(file, fileName, key, h5wasm.Dataset, 'expected a dataset, found a group or link');
}

export function getGroup(file: H5File | Group, fileName: string, key: string): Group | undefined {
  return getEntity(file, fileName, key, h5wasm.Group, 'expected a group');
}

export interface NumericShape {
  rows: number;
  cols: number;
}

/** Shape of a numeric dataset seen as [rows, cols]: [n] and [n, 1] both give cols 1. */
export function numericShape(dataset: Dataset, fileName: string, key: string): NumericShape {
  let shape: number[] | null;
  let type: number;
  try {
    shape = dataset.shape;
    type = dataset.metadata.type;
  } catch (error) {
    throw new DataFileError(fileName, `cannot read its header: ${summarizeHdf5Error(error)}`, key);
  }
  if (type !== H5T_FLOAT && type !== H5T_INTEGER && type !== H5T_ENUM) {
    throw new DataFileError(fileName, `expected numbers, found HDF5 type ${JSON.stringify(dataset.dtype)}`, key);
  }
  if (shape === null || shape.length === 0 || shape.length > 2) {
    throw new DataFileError(fileName, `expected a 1-D or 2-D array, found shape ${JSON.stringify(shape)}`, key);
  }
  const rows = shape[0] ?? 0;
  const cols = shape[1] ?? 1;
  return { rows, cols };
}

function memoryLimitBytes(): number {
  return Math.min(totalmem() * 0.6, 2 ** 34);
}

/**
 * Reads a numeric dataset into a Float32Array in row blocks. Declared sizes are checked against
 * memory first, so a corrupt header that claims 10^12 rows fails with a message instead of an
 * out-of-memory crash.
 */
export function readFloat32(dataset: Dataset, fileName: string, key: string, shape = numericShape(dataset, fileName, key)): Float32Array {
  const total = shape.rows * shape.cols;
  const bytes = total * 4;
  if (bytes > memoryLimitBytes()) {
    throw new DataFileError(fileName, `declares ${shape.rows} x ${shape.cols} values (${(bytes / 2 ** 30).toFixed(1)} GiB), more than this machine can hold`, key);
  }
  const out = new Float32Array(total);
  if (total === 0) return out;
  let chunkRows = shape.rows;
  try {
    chunkRows = dataset.metadata.chunks?.[0] ?? shape.rows;
  } catch {
    // contiguous layout: any block size works
  }
  const elementSize = Math.max(dataset.metadata.size, 1);
  const wantedRows = Math.max(1, Math.floor(READ_BLOCK_BYTES / (shape.cols * elementSize)));
  const blockRows = Math.max(chunkRows, Math.ceil(wantedRows / Math.max(chunkRows, 1)) * chunkRows);
  for (let start = 0; start < shape.rows; start += blockRows) {
    const end = Math.min(shape.rows, start + blockRows);
    let block: unknown;
    try {
      block = dataset.slice([[start, end]]);
    } catch (error) {
      throw new DataFileError(fileName, `cannot read rows ${start}-${end - 1}: ${summarizeHdf5Error(error)}`, key);
    }
    copyNumbers(block, out, start * shape.cols, (end - start) * shape.cols, fileName, key);
  }
  return out;
}

function copyNumbers(block: unknown, out: Float32Array, offset: number, expected: number, fileName: string, key: string): void {
  if (block instanceof BigInt64Array || block instanceof BigUint64Array) {
    if (block.length !== expected) throw new DataFileError(fileName, `read ${block.length} values, expected ${expected}`, key);
    for (let i = 0; i < expected; i++) out[offset + i] = Number(block[i]);
    return;
  }
  if (ArrayBuffer.isView(block) && !(block instanceof DataView)) {
    const numbers = block as Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;
    if (numbers.length !== expected) throw new DataFileError(fileName, `read ${numbers.length} values, expected ${expected}`, key);
    out.set(numbers, offset);
    return;
  }
  throw new DataFileError(fileName, 'expected a numeric array', key);
}

/** Reads a 0/1 flag column (bool, integer or float storage); any non-zero value counts as set. */
export function readFlags(dataset: Dataset, fileName: string, key: string): { flags: Uint8Array; nonBinary: number; firstNonBinary: number } {
  const shape = numericShape(dataset, fileName, key);
  if (shape.cols !== 1) throw new DataFileError(fileName, `expected one flag per row, found shape [${shape.rows}, ${shape.cols}]`, key);
  const values = readFloat32(dataset, fileName, key, shape);
  const flags = new Uint8Array(shape.rows);
  let nonBinary = 0;
  let firstNonBinary = -1;
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (value !== 0 && value !== 1) {
      if (firstNonBinary < 0) firstNonBinary = i;
      nonBinary++;
    }
    flags[i] = value !== 0 ? 1 : 0;
  }
  return { flags, nonBinary, firstNonBinary };
}

/** File or group attributes that are a string or a number (others are skipped: they carry no data rows). */
export function readScalarAttributes(entity: H5File | Group, fileName: string): Record<string, string | number> {
  const attributes: Record<string, string | number> = {};
  let names: string[];
  try {
    names = Object.keys(entity.attrs);
  } catch (error) {
    throw new DataFileError(fileName, `cannot read attributes: ${summarizeHdf5Error(error)}`, entity.path);
  }
  for (const name of names) {
    let value: unknown;
    try {
      value = entity.get_attribute(name, true);
    } catch (error) {
      throw new DataFileError(fileName, `cannot read attribute: ${summarizeHdf5Error(error)}`, `${entity.path}@${name}`);
    }
    if (Array.isArray(value) && value.length === 1) value = value[0];
    if (typeof value === 'string' || typeof value === 'number') attributes[name] = value;
    else if (typeof value === 'boolean') attributes[name] = value ? 1 : 0;
  }
  return attributes;
}

/** All dataset paths below a group, recursively, relative to that group. */
export function datasetPaths(group: Group, fileName: string): string[] {
  try {
    // Group.paths() lists every descendant relative to the group.
    return group.paths().filter((relative) => group.get(relative) instanceof h5wasm.Dataset);
  } catch (error) {
    throw new DataFileError(fileName, `cannot list keys: ${summarizeHdf5Error(error)}`, group.path);
  }
}

function finding(partial: Omit<Finding, 'count'> & { count?: number }): Finding {
  return { count: 1, ...partial };
}

const KNOWN_TOP_LEVEL = new Set(['observations', 'actions', 'rewards', 'terminals', 'timeouts', 'next_observations']);

/** Reads a D4RL-layout file and reports what it had to decide; structural damage throws DataFileError. */
export async function readD4rlHdf5WithFindings(path: string, options: D4rlReadOptions = {}): Promise<D4rlReadResult> {
  const file = await openHdf5ForRead(path);
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

    const lengths: Array<[string, number]> = [
      ['observations', obsShape.rows],
      ['actions', actionShape.rows],
      ['rewards', rewardShape.rows],
      ['terminals', numericShape(terminalsSet, path, 'terminals').rows],
    ];
    if (timeoutsSet !== undefined) lengths.push(['timeouts', numericShape(timeoutsSet, path, 'timeouts').rows]);
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
            message: `has ${rows} rows but the shortest required key has ${n} (${lengths.map(([k, r]) => `${k} ${r}`).join(', ')}); only the first ${n} rows are inspected`,
          }),
        );
      }
    }

    const cut = (data: Float32Array, cols: number): Float32Array => (data.length === n * cols ? data : data.subarray(0, n * cols));
    const observations = cut(readFloat32(observationsSet, path, 'observations', obsShape), obsShape.cols);
    const actions = cut(readFloat32(actionsSet, path, 'actions', actionShape), actionShape.cols);
    const rewards = cut(readFloat32(rewardsSet, path, 'rewards', rewardShape), 1);

    const flagColumn = (dataset: Dataset, key: string): Uint8Array => {
      const { flags, nonBinary, firstNonBinary } = readFlags(dataset, path, key);
      if (nonBinary > 0) {
        findings.push(
          finding({ code: 'non-binary-flag', severity: 'warning', file: path, key, index: firstNonBinary, count: nonBinary, message: `${nonBinary} values are neither 0 nor 1; every non-zero value is read as set` }),
        );
      }
      return flags.length === n ? flags : flags.subarray(0, n);
    };
    const terminals = flagColumn(terminalsSet, 'terminals');
    const timeouts = timeoutsSet === undefined ? new Uint8Array(n) : flagColumn(timeoutsSet, 'timeouts');

    const arrays: D4rlArrays = { observations, actions, rewards, terminals, timeouts, obsDim: obsShape.cols, actionDim: actionShape.cols };

    if (options.nextObservations === true) {
      const nextSet = getDataset(file, path, 'next_observations');
      if (nextSet !== undefined) {
        let problem: string | undefined;
        try {
          const nextShape = numericShape(nextSet, path, 'next_observations');
          if (nextShape.rows >= n && nextShape.cols === obsShape.cols) arrays.nextObservations = cut(readFloat32(nextSet, path, 'next_observations', nextShape), nextShape.cols);
          else problem = `shape [${nextShape.rows}, ${nextShape.cols}] does not match observations [${n}, ${obsShape.cols}]`;
        } catch (error) {
          if (!(error instanceof DataFileError)) throw error;
          problem = error.problem;
        }
        if (problem !== undefined) findings.push(finding({ code: 'info-dropped', severity: 'warning', file: path, key: 'next_observations', index: -1, message: `${problem}; not read` }));
      }
    }

    const infosGroup = getGroup(file, path, 'infos');
    if (infosGroup !== undefined) {
      const infos: Record<string, { data: Float32Array; dim: number }> = {};
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
        infos[relative] = { data: cut(readFloat32(dataset, path, key, shape), shape.cols), dim: shape.cols };
      }
      arrays.infos = infos;
    }

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
export async function readD4rlHdf5(path: string): Promise<D4rlArrays> {
  const { arrays, findings } = await readD4rlHdf5WithFindings(path);
  const mismatch = findings.find((item) => item.code === 'length-mismatch');
  if (mismatch !== undefined) throw new DataFileError(path, mismatch.message, mismatch.key);
  return arrays;
}

/** Checks that every array has n rows of the declared width; writers refuse inconsistent input. */
export function validateArrayShapes(arrays: D4rlArrays): number {
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

export interface Hdf5WriteOptions {
  /** gzip (level 4, as h5py's default) like the published D4RL files, or none for speed */
  compression?: 'gzip' | 'none';
}

/** Chunks of about 256 KiB: large enough for gzip, small enough for partial reads. */
function chunkRows(rows: number, cols: number, elementSize: number): number {
  return Math.max(1, Math.min(rows, Math.floor((256 * 1024) / (cols * elementSize))));
}

export function writeNumeric(group: Group, name: string, data: Float32Array | Float64Array | Uint8Array, rows: number, cols: number, compression: 'gzip' | 'none', shape1d = cols === 1): void {
  const dtype = data instanceof Float32Array ? '<f' : data instanceof Float64Array ? '<d' : '|b1';
  const shape = shape1d ? [rows] : [rows, cols];
  const compress = compression === 'gzip' && rows > 0;
  const chunks = compress ? (shape1d ? [chunkRows(rows, 1, data.BYTES_PER_ELEMENT)] : [chunkRows(rows, cols, data.BYTES_PER_ELEMENT), cols]) : null;
  group.create_dataset({ name, data, shape, dtype, ...(compress ? { chunks, compression: 'gzip' as const, compression_opts: 4 } : {}) });
}

/**
 * Writes `build` into a temporary sibling of `path` and renames it into place, so readers never
 * see a half-written file and an interrupted write leaves the old file intact.
 */
export async function writeHdf5Atomically(path: string, build: (file: H5File) => void): Promise<void> {
  await hdf5Ready();
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  let file: H5File | undefined;
  try {
    file = new h5wasm.File(temporary, 'w');
    build(file);
    file.close();
    file = undefined;
    renameSync(temporary, path);
  } catch (error) {
    try {
      file?.close();
    } catch {
      // the write already failed; the temporary file is removed below
    }
    rmSync(temporary, { force: true });
    if (error instanceof Error && /HDF5-DIAG/.test(error.message)) throw new DataFileError(path, `cannot write: ${summarizeHdf5Error(error)}`);
    throw error;
  }
}

/** Writes the D4RL layout (flags as 1-byte booleans, gzip by default) atomically. */
export async function writeD4rlHdf5(path: string, arrays: D4rlArrays, options: Hdf5WriteOptions = {}): Promise<void> {
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
