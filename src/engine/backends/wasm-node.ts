/**
 * Node's way to the WebAssembly kernels: read wasm/stitch-relaxed.wasm of this package from disk
 * where the engine has relaxed SIMD (its GEMM fuses each multiply-add: 10-20% faster products on
 * an FMA core), else wasm/stitch.wasm.
 * (A browser fetches the same bytes and calls `WasmBackend.compile`.) The file is read through
 * native.ts; backend selection reaches this file only through native-loader.ts, which a page's
 * bundle swaps out (test/deploy/bundle.test.ts).
 */
import { packageFile, readFileBytes } from './native.js';
import { WasmBackend } from './wasm.js';
import { startGemmWorkers } from './wasm-threads.js';

/** wasm/stitch.wasm of this package (`relaxed`: wasm/stitch-relaxed.wasm), or STITCH_WASM_MODULE when set */
export function wasmModulePath(relaxed = false): string {
  const override = process.env.STITCH_WASM_MODULE;
  if (override !== undefined && override !== '') return override;
  return packageFile('wasm', relaxed ? 'stitch-relaxed.wasm' : 'stitch.wasm');
}

declare const WebAssembly: { validate(bytes: Uint8Array): boolean };

/**
 * Whether this engine runs relaxed SIMD: Node 22 and later do by default; Node 20's V8 has it
 * behind --experimental-wasm-relaxed-simd, which is set here (V8's flags are the process's, so the
 * GEMM workers get it too) before asking again. STITCH_WASM_RELAXED=0 keeps the plain SIMD128
 * build (results then match it bit for bit on every machine; see docs/engine.md).
 */
function relaxedSimd(bytes: Uint8Array): boolean {
  if (process.env.STITCH_WASM_RELAXED === '0') return false;
  if (WebAssembly.validate(bytes)) return true;
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof getBuiltin !== 'function') return false;
  const v8 = getBuiltin('node:v8') as { setFlagsFromString(flags: string): void };
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  return WebAssembly.validate(bytes);
}

/** the machine's cores, through process.getBuiltinModule so that no Node built-in is imported */
function machineCores(): number {
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof getBuiltin !== 'function') return 1;
  const os = getBuiltin('node:os') as { availableParallelism?: () => number; cpus: () => unknown[] };
  return os.availableParallelism?.() ?? os.cpus().length;
}

/** the relaxed build where this engine runs it (and STITCH_WASM_MODULE does not name another), else the plain one */
function chooseModule(): { bytes: Uint8Array; relaxed: boolean } {
  const override = process.env.STITCH_WASM_MODULE;
  if (override === undefined || override === '') {
    let bytes: Uint8Array | undefined;
    try {
      bytes = readFileBytes(wasmModulePath(true), 'WebAssembly kernels');
    } catch {
      // a package without the relaxed build still has the plain one
    }
    if (bytes !== undefined && relaxedSimd(bytes)) return { bytes, relaxed: true };
  }
  return { bytes: readFileBytes(wasmModulePath(), 'WebAssembly kernels'), relaxed: false };
}

/** The backend with one thread per core (as the native one), its workers started on first use of setThreads. */
export function loadWasmBackend(threads = machineCores()): WasmBackend {
  const { bytes, relaxed } = chooseModule();
  const backend = WasmBackend.fromBytes(bytes, (count) => startGemmWorkers(bytes, count), relaxed);
  if (threads > 1) backend.setThreads(threads);
  return backend;
}
