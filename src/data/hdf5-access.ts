/**
 * Guarded h5wasm access shared by the D4RL and Minari readers and writers: opening, typed lookups,
 * shapes, block reads, the checks of what a header claims against the file and the memory budget,
 * and atomic writes. Every failure becomes a one-line DataFileError naming the file and the key.
 *
 * Memory: h5wasm copies every read out of the WebAssembly heap (which can grow to 2 GiB and never
 * shrinks), so large datasets are read in row blocks of a few MiB straight into one preallocated
 * Float32Array; the wasm heap stays small and the data exists once in JS memory.
 */
import { closeSync, openSync, readSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import h5wasm from 'h5wasm/node';
import type { Dataset, File as H5File, Group } from 'h5wasm/node';
import { formatBytes } from '../util/memory-budget.js';
import { DataFileError } from './errors.js';
import { regularFileSize } from './files.js';

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
/** Read blocks of about this many bytes so the wasm heap stays small. */
const READ_BLOCK_BYTES = 8 << 20;
/** The longest typed array V8 allocates (2^32 elements on 64-bit Node >= 22; 2^30 on older). */
const MAX_FLOAT32_VALUES = 2 ** 30;
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

/** An HDF5 file open for reading, with its size for the checks of what its headers claim. */
export interface OpenHdf5 {
  file: H5File;
  size: number;
}

/** Opens an HDF5 file for reading; every failure becomes a one-line DataFileError. */
export async function openHdf5ForRead(path: string): Promise<OpenHdf5> {
  await hdf5Ready();
  const size = regularFileSize(path);
  if (!hasHdf5Signature(path, size)) throw new DataFileError(path, 'not an HDF5 file (no HDF5 signature)');
  try {
    return { file: new h5wasm.File(path, 'r'), size };
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
  // A row of zero values carries nothing to learn from (and a zero width breaks every reshape later).
  if (cols === 0) throw new DataFileError(fileName, `has shape [${rows}, 0]: zero values per row`, key);
  return { rows, cols };
}

/** One dataset a reader means to read, with its declared shape: the unit of the checks below. */
export interface PlannedDataset {
  dataset: Dataset;
  key: string;
  shape: NumericShape;
}

/** zlib's deflate cannot shrink data by more than about 1032:1; a little headroom on top. */
const MAX_DEFLATE_RATIO = 1100;
const H5Z_FILTER_DEFLATE = 1;
/** Filters that do not change the size (shuffle, Fletcher32 checksum). */
const SIZE_NEUTRAL_FILTERS = new Set([2, 3]);

/**
 * The fewest bytes the file must hold for this dataset's values: all of them when stored as they
 * are, 1/1100 of them when deflated. Other filters (scale-offset, szip, plugins) give no bound
 * here; the memory budget still applies to them.
 */
function minimumStoredBytes(planned: PlannedDataset, fileName: string): number {
  const { dataset, key, shape } = planned;
  let elementSize: number;
  let filters: Array<{ id: number }>;
  try {
    elementSize = Math.max(dataset.metadata.size, 1);
    filters = dataset.filters;
  } catch (error) {
    throw new DataFileError(fileName, `cannot read its header: ${summarizeHdf5Error(error)}`, key);
  }
  const logical = shape.rows * shape.cols * elementSize;
  if (filters.every((filter) => SIZE_NEUTRAL_FILTERS.has(filter.id))) return logical;
  if (filters.every((filter) => filter.id === H5Z_FILTER_DEFLATE || SIZE_NEUTRAL_FILTERS.has(filter.id))) return logical / MAX_DEFLATE_RATIO;
  return 0;
}

/**
 * Refuses a file whose headers claim more values than it can hold. HDF5 returns the fill value
 * (zeros) for chunks that were never written, so a 7 KB file can claim 80 million rows and read
 * back as zeros: that is missing data, not data, and it is refused before anything is read.
 */
export function checkClaimsFitFile(planned: readonly PlannedDataset[], fileName: string, fileSize: number): void {
  let needed = 0;
  let largest: { key: string; bytes: number; shape: NumericShape } | undefined;
  for (const item of planned) {
    const bytes = minimumStoredBytes(item, fileName);
    needed += bytes;
    if (largest === undefined || bytes > largest.bytes) largest = { key: item.key, bytes, shape: item.shape };
  }
  if (needed <= fileSize || largest === undefined) return;
  throw new DataFileError(
    fileName,
    `declares ${largest.shape.rows} x ${largest.shape.cols} values, but the file (${formatBytes(fileSize)}) cannot hold the ${formatBytes(Math.ceil(needed))} its datasets need at least; unwritten (fill-value) chunks or a corrupt header, refusing it as missing data`,
    largest.key,
  );
}

/** Refuses, before any allocation, a dataset whose values would take more than the memory budget. */
export function checkMemoryBudget(bytes: number, budget: number, fileName: string, what: string): void {
  if (bytes <= budget) return;
  throw new DataFileError(fileName, `${what} would take ${formatBytes(bytes)} in memory, more than the budget of ${formatBytes(budget)} (half the memory limit of this machine or container)`);
}

/** Bytes readFloat32 allocates for a dataset: float32 values in JS memory. */
export function float32Bytes(shape: NumericShape): number {
  return shape.rows * shape.cols * 4;
}

/**
 * Reads a numeric dataset into a Float32Array in row blocks. Callers check the claimed sizes
 * (checkClaimsFitFile, checkMemoryBudget) over the whole dataset first; a second guard here keeps
 * a single read below the largest array JS can allocate.
 */
export function readFloat32(dataset: Dataset, fileName: string, key: string, shape = numericShape(dataset, fileName, key)): Float32Array {
  const total = shape.rows * shape.cols;
  if (total > MAX_FLOAT32_VALUES) {
    throw new DataFileError(fileName, `declares ${shape.rows} x ${shape.cols} values, more than one array can hold`, key);
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
export function readFlags(dataset: Dataset, fileName: string, key: string, rows?: number): { flags: Uint8Array; nonBinary: number; firstNonBinary: number } {
  const shape = numericShape(dataset, fileName, key);
  if (shape.cols !== 1) throw new DataFileError(fileName, `expected one flag per row, found shape [${shape.rows}, ${shape.cols}]`, key);
  const values = readFloat32(dataset, fileName, key, { rows: Math.min(rows ?? shape.rows, shape.rows), cols: 1 });
  const flags = new Uint8Array(values.length);
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
