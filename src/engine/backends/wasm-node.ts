/**
 * Node's way to the WebAssembly kernels: read wasm/stitch.wasm of this package from disk.
 * (A browser fetches the same bytes and calls `WasmBackend.compile`.)
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WasmBackend } from './wasm.js';

/** wasm/stitch.wasm of this package, or STITCH_WASM_MODULE when set */
export function wasmModulePath(): string {
  const override = process.env.STITCH_WASM_MODULE;
  if (override !== undefined && override !== '') return override;
  const here = dirname(fileURLToPath(import.meta.url));
  // compiled code lives in dist/src/engine/backends: four levels below the package root
  return join(here, '../../../..', 'wasm', 'stitch.wasm');
}

export function loadWasmBackend(): WasmBackend {
  const path = wasmModulePath();
  if (!existsSync(path)) throw new Error(`WebAssembly kernels missing (${path})`);
  return WasmBackend.fromBytes(readFileSync(path));
}
