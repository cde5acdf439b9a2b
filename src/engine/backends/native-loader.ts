/**
 * Loads the native (OpenBLAS) backend: the engine's only file that reaches Node built-ins. The
 * package.json `browser` field maps it to ./native-unavailable.js, so bundlers targeting a page
 * (esbuild, webpack, rollup's node-resolve) ship the TypeScript kernels alone; Node ignores that
 * field and loads the addon as before.
 */
import type { Backend } from '../backend.js';
import { loadNativeAddon, NativeBackend } from './native.js';

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
