/**
 * Backend selection. Chosen once at start-up: STITCH_BACKEND=native|wasm|js|auto (default auto:
 * native when the addon loads, else the WebAssembly kernels, else the TypeScript ones, saying why).
 */
import type { Backend } from '../backend.js';
import { JsBackend } from './js.js';
import { loadNativeAddon, NativeBackend } from './native.js';
import { WasmBackend } from './wasm.js';
import { loadWasmBackend } from './wasm-node.js';

export type BackendName = 'native' | 'wasm' | 'js';

export const BACKEND_NAMES: readonly BackendName[] = ['native', 'wasm', 'js'];

export interface BackendChoice {
  backend: Backend;
  /** why the faster backends are not in use, when `auto` fell back */
  fallbackReason?: string;
}

let active: Backend | undefined;
let fallbackReason: string | undefined;
let nativeCache: NativeBackend | Error | undefined;
let wasmCache: WasmBackend | Error | undefined;

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export function tryNativeBackend(): NativeBackend | Error {
  if (nativeCache === undefined) {
    try {
      nativeCache = new NativeBackend(loadNativeAddon());
    } catch (error) {
      nativeCache = asError(error);
    }
  }
  return nativeCache;
}

export function tryWasmBackend(): WasmBackend | Error {
  if (wasmCache === undefined) {
    try {
      wasmCache = loadWasmBackend();
    } catch (error) {
      wasmCache = asError(error);
    }
  }
  return wasmCache;
}

export function createBackend(name: BackendName | 'auto'): BackendChoice {
  if (name === 'js') return { backend: new JsBackend() };
  if (name === 'wasm') {
    const wasm = tryWasmBackend();
    if (wasm instanceof Error) throw new Error(`the wasm backend is not available: ${wasm.message}`);
    return { backend: wasm };
  }
  const native = tryNativeBackend();
  if (native instanceof NativeBackend) return { backend: native };
  if (name === 'native') throw new Error(`the native backend is not available: ${native.message}`);
  const wasm = tryWasmBackend();
  if (wasm instanceof WasmBackend) return { backend: wasm, fallbackReason: `native unavailable: ${native.message}` };
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
    const choice = createBackend(parseBackendName(process.env.STITCH_BACKEND));
    active = choice.backend;
    fallbackReason = choice.fallbackReason;
    const threads = process.env.STITCH_THREADS;
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
  const detail =
    current instanceof NativeBackend ? `, ${current.blasInfo()}` : current instanceof WasmBackend ? `, ${current.describe()}` : '';
  const why = fallbackReason !== undefined ? ` (${fallbackReason})` : '';
  return `${current.name} backend, ${current.threads()} thread(s)${detail}${why}`;
}
