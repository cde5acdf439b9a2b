/**
 * Saving and loading parameters (and optimizer state) as safetensors. Weights files hold exactly
 * the module's state_dict names, so `model.load_state_dict(load_file(path))` works in PyTorch for
 * a model built with the same names. The file functions here use Node's fs; module-tensors.ts is
 * the part without it (policy loading in a browser uses that one).
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic-file.js';
import { formatBytes, memoryBudgetBytes } from '../util/memory-budget.js';
import { hostArray, writeStorage } from '../engine/tensor.js';
import type { Module } from './module.js';
import type { AdamState, Optimizer } from './optim.js';
import { loadModuleTensors, moduleTensors } from './module-tensors.js';
import {
  encodeSafetensors,
  extractTensors,
  parseSafetensorsHeader,
  safetensorsHeaderLength,
  SafetensorsError,
  storedFromFloat,
  type SafetensorsFile,
  type StoredTensor,
} from './safetensors.js';

export { loadModuleTensors, moduleTensors } from './module-tensors.js';

export function saveModule(module: Module, path: string, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeSafetensors(moduleTensors(module), metadata));
}

/** `length` bytes at `position`, or fewer when the file ends first. */
function readAt(fd: number, length: number, position: number): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const read = readSync(fd, out, done, length - done, position + done);
    if (read === 0) break;
    done += read;
  }
  return out.subarray(0, done);
}

/**
 * Reads a safetensors file header first: the header length is checked against the file and the
 * cap, the header against the file's size, and then only the tensors' bytes are read (bounded by
 * the memory budget). A hostile header or a multi-gigabyte (even sparse) file is refused before
 * the file is read; FIFOs and devices are refused before a byte is read. `use` reads what it needs
 * from the open file once these checks have passed.
 */
function readBounded<T>(path: string, use: (fd: number, headerLength: number, header: ReturnType<typeof parseSafetensorsHeader>) => T): T {
  let fd: number;
  try {
    // Checked before opening: opening a FIFO for reading blocks until a writer appears.
    if (!statSync(path).isFile()) throw new SafetensorsError(`${path}: not a regular file; refusing to read it`);
    fd = openSync(path, 'r');
  } catch (error) {
    if (error instanceof SafetensorsError) throw error;
    throw new SafetensorsError(`${path}: cannot read (${error instanceof Error ? error.message : String(error)})`);
  }
  try {
    const stats = fstatSync(fd);
    const headerLength = safetensorsHeaderLength(readAt(fd, 8, 0), stats.size, path);
    const header = parseSafetensorsHeader(readAt(fd, headerLength, 8), stats.size - 8 - headerLength, path);
    const budget = memoryBudgetBytes();
    if (header.dataEnd > budget) throw new SafetensorsError(`${path}: its tensors take ${formatBytes(header.dataEnd)}, more than the memory budget of ${formatBytes(budget)}`);
    return use(fd, headerLength, header);
  } catch (error) {
    if (error instanceof SafetensorsError) throw error;
    throw new SafetensorsError(`${path}: cannot read (${error instanceof Error ? error.message : String(error)})`);
  } finally {
    closeSync(fd);
  }
}

export function readSafetensors(path: string): SafetensorsFile {
  return readBounded(path, (fd, headerLength, header) => {
    const data = readAt(fd, header.dataEnd, 8 + headerLength);
    if (data.length < header.dataEnd) throw new SafetensorsError(`${path}: the file ended while reading its tensors; it is truncated`);
    return extractTensors(header, data);
  });
}

/**
 * A safetensors file's bytes (length prefix, header and tensors, nothing after them) for decoders
 * that take bytes, such as the deployment module's policyFromBytes; bounded as readSafetensors is.
 */
export function readBytes(path: string): Uint8Array {
  return readBounded(path, (fd, headerLength, header) => {
    const total = 8 + headerLength + header.dataEnd;
    const bytes = readAt(fd, total, 0);
    if (bytes.length < total) throw new SafetensorsError(`${path}: the file ended while reading its tensors; it is truncated`);
    return bytes;
  });
}

export function loadModule(module: Module, path: string): Record<string, string> {
  const file = readSafetensors(path);
  loadModuleTensors(module, file.tensors, path);
  return file.metadata;
}

/**
 * Optimizer state as tensors `state.<parameter name>.exp_avg|exp_avg_sq` plus metadata with the
 * step count and learning rate; `names` are the parameter names in the optimizer's order.
 */
export function optimizerTensors(optimizer: Optimizer, names: readonly string[]): { tensors: Map<string, StoredTensor>; metadata: Record<string, string> } {
  if (names.length !== optimizer.params.length) throw new Error('optimizerTensors: one name per optimized parameter is needed');
  const tensors = new Map<string, StoredTensor>();
  optimizer.state.forEach((s: AdamState, i) => {
    const p = optimizer.params[i];
    const shape = p === undefined ? [s.exp_avg.length] : [...p.shape];
    tensors.set(`state.${names[i]}.exp_avg`, storedFromFloat(hostArray(s.exp_avg), shape));
    tensors.set(`state.${names[i]}.exp_avg_sq`, storedFromFloat(hostArray(s.exp_avg_sq), shape));
  });
  return { tensors, metadata: { optimizer: optimizer.constructor.name, step: String(optimizer.stepCount), lr: String(optimizer.lr) } };
}

export function loadOptimizerTensors(optimizer: Optimizer, names: readonly string[], file: SafetensorsFile, source: string): void {
  if (file.metadata.optimizer !== undefined && file.metadata.optimizer !== optimizer.constructor.name) {
    throw new SafetensorsError(`${source}: optimizer state is for ${file.metadata.optimizer}, this run uses ${optimizer.constructor.name}`);
  }
  const step = Number(file.metadata.step);
  const lr = Number(file.metadata.lr);
  if (!Number.isSafeInteger(step) || step < 0 || !Number.isFinite(lr)) throw new SafetensorsError(`${source}: optimizer metadata lacks a valid step and lr`);
  optimizer.state.forEach((s, i) => {
    for (const key of ['exp_avg', 'exp_avg_sq'] as const) {
      const stored = file.tensors.get(`state.${names[i]}.${key}`);
      if (stored === undefined || stored.data.length !== s[key].length) {
        throw new SafetensorsError(`${source}: optimizer state ${key} of ${names[i]} is missing or of another size`);
      }
      writeStorage(s[key], stored.data);
    }
  });
  optimizer.stepCount = step;
  optimizer.lr = lr;
}

export function saveOptimizer(optimizer: Optimizer, names: readonly string[], path: string): void {
  const { tensors, metadata } = optimizerTensors(optimizer, names);
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export function loadOptimizer(optimizer: Optimizer, names: readonly string[], path: string): void {
  loadOptimizerTensors(optimizer, names, readSafetensors(path), path);
}
