/**
 * A module's parameters as named stored tensors and back, without touching files (so code that
 * runs in a browser can load weights from bytes); nn/checkpoint.ts adds the files.
 */
import type { Module } from './module.js';
import { SafetensorsError, storedFromFloat, type StoredTensor } from './safetensors.js';

export function moduleTensors(module: Module, prefix = ''): Map<string, StoredTensor> {
  const out = new Map<string, StoredTensor>();
  for (const [name, p] of module.namedParameters()) out.set(`${prefix}${name}`, storedFromFloat(p.data, p.shape));
  return out;
}

/** Copy values from stored tensors into the module; every parameter must be present with its shape. */
export function loadModuleTensors(module: Module, tensors: ReadonlyMap<string, StoredTensor>, source: string, prefix = ''): void {
  const expected = module.namedParameters();
  const missing = expected.filter(([name]) => !tensors.has(`${prefix}${name}`)).map(([name]) => name);
  if (missing.length > 0) throw new SafetensorsError(`${source}: missing parameters ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`);
  for (const [name, p] of expected) {
    const stored = tensors.get(`${prefix}${name}`) as StoredTensor;
    if (stored.dtype === 'I32') throw new SafetensorsError(`${source}: parameter ${name} is stored as integers`);
    if (stored.shape.length !== p.shape.length || stored.shape.some((d, i) => d !== p.shape[i])) {
      throw new SafetensorsError(`${source}: parameter ${name} has shape [${stored.shape}], the model expects [${p.shape}]`);
    }
    p.write(p.dtype === 'float64' ? Float64Array.from(stored.data) : Float32Array.from(stored.data));
  }
}
