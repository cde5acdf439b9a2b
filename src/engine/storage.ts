/**
 * Where a tensor's values live: a host typed array (js, native and wasm backends), a device
 * backend's handle (webgpu), or an array in a WebAssembly module's linear memory (the wasm
 * backend while it trains). Only the backend that made a storage reads or writes it.
 */
import type { GpuArray } from './webgpu/runtime.js';

export type FloatArray = Float32Array | Float64Array;

/**
 * An array of 32-bit elements in a WebAssembly module's memory, named by its byte offset: a
 * typed-array view would be detached whenever the memory grows, an offset stays valid.
 */
export interface WasmArray {
  readonly pointer: number;
  readonly length: number;
}

export type Storage = FloatArray | GpuArray | WasmArray;
/** row indices (embeddings): a host Int32Array or a device handle */
export type IndexStorage = Int32Array | GpuArray | WasmArray;

/** true for host storage (a typed array); false for a device handle */
export function isHostStorage(storage: Storage | IndexStorage): storage is FloatArray | Int32Array {
  return ArrayBuffer.isView(storage);
}

/** true for an array in a WebAssembly module's memory */
export function isWasmArray(storage: Storage | IndexStorage): storage is WasmArray {
  return !ArrayBuffer.isView(storage) && typeof (storage as Partial<WasmArray>).pointer === 'number';
}
