/**
 * Node's way to the WebAssembly kernels: read wasm/stitch.wasm of this package from disk.
 * (A browser fetches the same bytes and calls `WasmBackend.compile`.) The file is read through
 * native.ts, the engine's one importer of Node built-ins (test/deploy/bundle.test.ts).
 */
import { packageFile, readFileBytes } from './native.js';
import { WasmBackend } from './wasm.js';

/** wasm/stitch.wasm of this package, or STITCH_WASM_MODULE when set */
export function wasmModulePath(): string {
  const override = process.env.STITCH_WASM_MODULE;
  if (override !== undefined && override !== '') return override;
  return packageFile('wasm', 'stitch.wasm');
}

export function loadWasmBackend(): WasmBackend {
  return WasmBackend.fromBytes(readFileBytes(wasmModulePath(), 'WebAssembly kernels'));
}
