/**
 * Saving and loading parameters (and optimizer state) as safetensors. Weights files hold exactly
 * the module's state_dict names, so `model.load_state_dict(load_file(path))` works in PyTorch for
 * a model built with the same names. The file functions here use Node's fs; module-tensors.ts is
 * the part without it (policy loading in a browser uses that one).
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { Module } from './module.js';
import type { AdamState, Optimizer } from './optim.js';
import { loadModuleTensors, moduleTensors } from './module-tensors.js';
import { decodeSafetensors, encodeSafetensors, SafetensorsError, storedFromFloat, type SafetensorsFile, type StoredTensor } from './safetensors.js';

export { loadModuleTensors, moduleTensors } from './module-tensors.js';

export function saveModule(module: Module, path: string, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeSafetensors(moduleTensors(module), metadata));
}

/** A file's bytes; a file that cannot be read is a SafetensorsError naming it. */
export function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new SafetensorsError(`${path}: cannot read (${error instanceof Error ? error.message : String(error)})`);
  }
}

export function readSafetensors(path: string): SafetensorsFile {
  return decodeSafetensors(readBytes(path), path);
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
    tensors.set(`state.${names[i]}.exp_avg`, storedFromFloat(s.exp_avg, shape));
    tensors.set(`state.${names[i]}.exp_avg_sq`, storedFromFloat(s.exp_avg_sq, shape));
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
      s[key].set(stored.data);
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
