/**
 * Loads the native (OpenBLAS) backend, and the WebAssembly kernels from this package's files: the
 * engine's only way to Node built-ins. The package.json `browser` field maps it to
 * ./native-unavailable.js, so bundlers targeting a page (esbuild, webpack, rollup's node-resolve)
 * ship no Node built-in (a page compiles the wasm bytes it fetched with `WasmBackend.compile`);
 * Node ignores that field and loads both as before.
 */
import type { Backend } from '../backend.js';
import { loadNativeAddon, NativeBackend } from './native.js';
import type { WasmBackend } from './wasm.js';
import { loadWasmBackend as loadWasmFromPackage } from './wasm-node.js';

/** the native backend, or why it cannot load */
export function loadNativeBackend(): NativeBackend | Error {
  try {
    return new NativeBackend(loadNativeAddon());
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** the BLAS build behind a native backend (empty for any other backend) */
export function blasInfo(backend: Backend): string {
  return backend instanceof NativeBackend ? backend.blasInfo() : '';
}

/** the WebAssembly backend from wasm/stitch.wasm of this package, or why it cannot load */
export function loadWasmBackend(): WasmBackend | Error {
  try {
    return loadWasmFromPackage();
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}
