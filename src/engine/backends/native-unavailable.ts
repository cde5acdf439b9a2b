/**
 * What a page gets instead of ./native-loader.js (the package.json `browser` field): the same
 * exports, with no Node built-in and no addon; backend selection then falls back to the
 * TypeScript kernels (a page that wants the WebAssembly kernels fetches wasm/stitch.wasm and
 * compiles it with `WasmBackend.compile`, then `setBackend`).
 */
import type { Backend } from '../backend.js';
import type { NativeBackend } from './native.js';
import type { WasmBackend } from './wasm.js';

export function loadNativeBackend(): NativeBackend | Error {
  return new Error('the native backend runs in Node only');
}

export function blasInfo(_backend: Backend): string {
  return '';
}

export function loadWasmBackend(): WasmBackend | Error {
  return new Error('in a page, fetch wasm/stitch.wasm and compile it with WasmBackend.compile');
}
