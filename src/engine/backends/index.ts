/**
 * Backend selection. Chosen once at start-up: STITCH_BACKEND=native|wasm|js|auto (default auto:
 * native when the addon loads, else the WebAssembly kernels, else the TypeScript ones, saying
 * why). Nothing here imports a Node built-in: the native backend and Node's way to the wasm
 * module come through ./native-loader.js, which bundles for a page as ./native-unavailable.js
 * (package.json `browser` field; a page compiles the wasm bytes itself with
 * `WasmBackend.compile`), and the environment variables are read only where a `process` exists.
 */
import type { Backend, BackendName, TensorBackend } from '../backend.js';
import { HostTensorBackend } from './host.js';
import { JsBackend } from './js.js';
import { blasInfo, loadNativeBackend, loadWasmBackend } from './native-loader.js';
import type { NativeBackend } from './native.js';
import { WasmBackend } from './wasm.js';
import { WasmResidentBackend } from './wasm-resident.js';

export type { BackendName } from '../backend.js';
/** the backends chosen synchronously at start-up (webgpu needs an asynchronous device request: webgpu-backend.ts) */
export type HostBackendName = Exclude<BackendName, 'webgpu'>;

export const BACKEND_NAMES: readonly HostBackendName[] = ['native', 'wasm', 'js'];

export interface BackendChoice {
  backend: TensorBackend;
  /** why `auto` did not get the native backend */
  fallbackReason?: string;
}

let active: TensorBackend | undefined;
let fallbackReason: string | undefined;
let nativeCache: NativeBackend | Error | undefined;
let wasmCache: WasmBackend | Error | undefined;

export function tryNativeBackend(): NativeBackend | Error {
  nativeCache ??= loadNativeBackend();
  return nativeCache;
}

export function tryWasmBackend(): WasmBackend | Error {
  wasmCache ??= loadWasmBackend();
  return wasmCache;
}

/** an environment variable in Node; undefined in a page */
function environment(name: string): string | undefined {
  const holder = globalThis as { process?: { env?: Record<string, string | undefined> } };
  return holder.process?.env?.[name];
}

/** a CPU backend as tensors use it (host storage), describing itself for `stitch info` */
export function hostTensorBackend(kernels: Backend): HostTensorBackend {
  return new HostTensorBackend(kernels, () => {
    const blas = blasInfo(kernels);
    return blas !== '' ? blas : kernels instanceof WasmBackend ? kernels.describe() : '';
  });
}

export function createBackend(name: HostBackendName | 'auto'): BackendChoice {
  if (name === 'js') return { backend: hostTensorBackend(new JsBackend()) };
  if (name === 'wasm') {
    const wasm = tryWasmBackend();
    if (wasm instanceof Error) throw new Error(`the wasm backend is not available: ${wasm.message}`);
    return { backend: hostTensorBackend(wasm) };
  }
  const native = tryNativeBackend();
  if (!(native instanceof Error)) return { backend: hostTensorBackend(native) };
  if (name === 'native') throw new Error(`the native backend is not available: ${native.message}`);
  const wasm = tryWasmBackend();
  if (!(wasm instanceof Error)) return { backend: hostTensorBackend(wasm), fallbackReason: `native unavailable: ${native.message}` };
  return { backend: hostTensorBackend(new JsBackend()), fallbackReason: `native unavailable: ${native.message}; wasm unavailable: ${wasm.message}` };
}

const residentVariants = new WeakMap<WasmBackend, WasmResidentBackend>();

/**
 * The backend a training run's steps use when `active` is the host wasm backend: the same kernels
 * with every tensor in the module's memory (wasm-resident.ts). Null for any other backend, and
 * when STITCH_WASM_RESIDENT=0 (tensors then stay host arrays copied per op: for comparisons).
 */
export function residentTrainingBackend(active: TensorBackend): WasmResidentBackend | null {
  if (!(active instanceof HostTensorBackend) || active.resident || !(active.kernels instanceof WasmBackend)) return null;
  if (environment('STITCH_WASM_RESIDENT') === '0') return null;
  let variant = residentVariants.get(active.kernels);
  if (variant === undefined) {
    variant = new WasmResidentBackend(active.kernels, active);
    residentVariants.set(active.kernels, variant);
  }
  return variant;
}

/**
 * Moves the ops to `residentTrainingBackend(backend())` when there is one; returns the function
 * that moves them back (the fallback reason `stitch info` and provenance print is kept).
 */
export function enterResidentTraining(): () => void {
  const previous = backend();
  const resident = residentTrainingBackend(previous);
  if (resident === null) return () => undefined;
  const reason = fallbackReason;
  active = resident;
  return () => {
    if (active !== resident) return;
    active = previous;
    fallbackReason = reason;
  };
}

export function parseBackendName(value: string | undefined): HostBackendName | 'auto' {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as HostBackendName;
  if (value === 'webgpu') throw new Error('the webgpu backend needs an asynchronous device request before the first op (the CLI makes it; in code: await activateRequestedBackend(\'webgpu\') or setBackend(new WebGpuBackend(device)))');
  throw new Error(`STITCH_BACKEND must be webgpu, native, wasm, js or auto (got "${value}")`);
}

/** The backend every op runs on. */
export function backend(): TensorBackend {
  if (active === undefined) {
    const choice = createBackend(parseBackendName(environment('STITCH_BACKEND')));
    active = choice.backend;
    fallbackReason = choice.fallbackReason;
    const threads = environment('STITCH_THREADS');
    if (threads !== undefined && threads !== '') active.setThreads(Number.parseInt(threads, 10));
  }
  return active;
}

/** Makes `next` the backend of every op from now on (a CPU backend's kernels are wrapped for tensors). */
export function setBackend(next: TensorBackend | Backend | HostBackendName): TensorBackend {
  active = typeof next === 'string' ? createBackend(next).backend : isTensorBackend(next) ? next : hostTensorBackend(next);
  fallbackReason = undefined;
  return active;
}

function isTensorBackend(candidate: TensorBackend | Backend): candidate is TensorBackend {
  return 'resident' in candidate;
}

/** one line for `stitch info` and provenance; `training`: the backend a run's steps use (the wasm backend's module-memory variant) */
export function describeBackend(options: { training?: boolean } = {}): string {
  const active = backend();
  const current = options.training === true ? residentTrainingBackend(active) ?? active : active;
  const detail = current.describe();
  const why = fallbackReason !== undefined ? ` (${fallbackReason})` : '';
  return `${current.name} backend, ${current.threads()} thread(s)${detail === '' ? '' : `, ${detail}`}${why}`;
}
