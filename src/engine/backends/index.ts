/**
 * Backend selection. Chosen once at start-up: STITCH_BACKEND=native|wasm|js|auto (default auto:
 * native when the addon loads, else the WebAssembly kernels, else the TypeScript ones, saying
 * why). Nothing here imports a Node built-in: the native backend and Node's way to the wasm
 * module come through ./native-loader.js, which bundles for a page as ./native-unavailable.js
 * (package.json `browser` field; a page compiles the wasm bytes itself with
 * `WasmBackend.compile`), and the environment variables are read only where a `process` exists.
 */
import type { Backend } from '../backend.js';
import { JsBackend } from './js.js';
import { blasInfo, loadNativeBackend, loadWasmBackend } from './native-loader.js';
import type { NativeBackend } from './native.js';
import { WasmBackend } from './wasm.js';

export type BackendName = 'native' | 'wasm' | 'js';

export const BACKEND_NAMES: readonly BackendName[] = ['native', 'wasm', 'js'];

export interface BackendChoice {
  backend: Backend;
  /** why `auto` did not get the native backend */
  fallbackReason?: string;
}

let active: Backend | undefined;
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

export function createBackend(name: BackendName | 'auto'): BackendChoice {
  if (name === 'js') return { backend: new JsBackend() };
  if (name === 'wasm') {
    const wasm = tryWasmBackend();
    if (wasm instanceof Error) throw new Error(`the wasm backend is not available: ${wasm.message}`);
    return { backend: wasm };
  }
  const native = tryNativeBackend();
  if (!(native instanceof Error)) return { backend: native };
  if (name === 'native') throw new Error(`the native backend is not available: ${native.message}`);
  const wasm = tryWasmBackend();
  if (!(wasm instanceof Error)) return { backend: wasm, fallbackReason: `native unavailable: ${native.message}` };
  return { backend: new JsBackend(), fallbackReason: `native unavailable: ${native.message}; wasm unavailable: ${wasm.message}` };
}

export function parseBackendName(value: string | undefined): BackendName | 'auto' {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName;
  throw new Error(`STITCH_BACKEND must be native, wasm, js or auto (got "${value}")`);
}

/** The backend every op runs on. */
export function backend(): Backend {
  if (active === undefined) {
    const choice = createBackend(parseBackendName(environment('STITCH_BACKEND')));
    active = choice.backend;
    fallbackReason = choice.fallbackReason;
    const threads = environment('STITCH_THREADS');
    if (threads !== undefined && threads !== '') active.setThreads(Number.parseInt(threads, 10));
  }
  return active;
}

export function setBackend(next: Backend | BackendName): Backend {
  active = typeof next === 'string' ? createBackend(next).backend : next;
  fallbackReason = undefined;
  return active;
}

export function describeBackend(): string {
  const current = backend();
  const blas = blasInfo(current);
  const detail = blas !== '' ? `, ${blas}` : current instanceof WasmBackend ? `, ${current.describe()}` : '';
  const why = fallbackReason !== undefined ? ` (${fallbackReason})` : '';
  return `${current.name} backend, ${current.threads()} thread(s)${detail}${why}`;
}
