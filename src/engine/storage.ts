/**
 * Where a tensor's values live: a host typed array (js, native and wasm backends) or a device
 * backend's handle (webgpu). Only the backend that made a storage reads or writes it.
 */
import type { GpuArray } from './webgpu/runtime.js';

export type FloatArray = Float32Array | Float64Array;

export type Storage = FloatArray | GpuArray;
/** row indices (embeddings): a host Int32Array or a device handle */
export type IndexStorage = Int32Array | GpuArray;

/** true for host storage (a typed array); false for a device handle */
export function isHostStorage(storage: Storage | IndexStorage): storage is FloatArray | Int32Array {
  return ArrayBuffer.isView(storage);
}
