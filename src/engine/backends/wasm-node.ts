/**
 * Node's way to the WebAssembly kernels: read wasm/stitch.wasm of this package from disk.
 * (A browser fetches the same bytes and calls `WasmBackend.compile`.) The file is read through
 * native.ts; backend selection reaches this file only through native-loader.ts, which a page's
 * bundle swaps out (test/deploy/bundle.test.ts).
 */
import { packageFile, readFileBytes } from './native.js';
import { WasmBackend } from './wasm.js';
import { startGemmWorkers } from './wasm-threads.js';

/** wasm/stitch.wasm of this package, or STITCH_WASM_MODULE when set */
export function wasmModulePath(): string {
  const override = process.env.STITCH_WASM_MODULE;
  if (override !== undefined && override !== '') return override;
  return packageFile('wasm', 'stitch.wasm');
}

/** the machine's cores, through process.getBuiltinModule so that no Node built-in is imported */
function machineCores(): number {
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof getBuiltin !== 'function') return 1;
  const os = getBuiltin('node:os') as { availableParallelism?: () => number; cpus: () => unknown[] };
  return os.availableParallelism?.() ?? os.cpus().length;
}

/** The backend with one thread per core (as the native one), its workers started on first use of setThreads. */
export function loadWasmBackend(threads = machineCores()): WasmBackend {
  const bytes = readFileBytes(wasmModulePath(), 'WebAssembly kernels');
  const backend = WasmBackend.fromBytes(bytes, (count) => startGemmWorkers(bytes, count));
  if (threads > 1) backend.setThreads(threads);
  return backend;
}
