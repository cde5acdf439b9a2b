/**
 * Backend selection. Chosen once at start-up: STITCH_BACKEND=native|js|auto (default auto:
 * native when the addon loads, else the TypeScript kernels, saying why). Nothing here imports a
 * Node built-in: the native backend comes through ./native-loader.js, which bundles for a page
 * as ./native-unavailable.js (package.json `browser` field), and the environment variables are
 * read only where a `process` exists.
 */
import type { Backend } from '../backend.js';
import { JsBackend } from './js.js';
import { blasInfo, loadNativeBackend } from './native-loader.js';
import type { NativeBackend } from './native.js';

export type BackendName = 'native' | 'js';

export interface BackendChoice {
  backend: Backend;
  /** why native is not in use, when it is not */
  fallbackReason?: string;
}

let active: Backend | undefined;
let fallbackReason: string | undefined;
let nativeCache: NativeBackend | Error | undefined;

export function tryNativeBackend(): NativeBackend | Error {
  nativeCache ??= loadNativeBackend();
  return nativeCache;
}

/** an environment variable in Node; undefined in a page */
function environment(name: string): string | undefined {
  const holder = globalThis as { process?: { env?: Record<string, string | undefined> } };
  return holder.process?.env?.[name];
}

export function createBackend(name: BackendName | 'auto'): BackendChoice {
  if (name === 'js') return { backend: new JsBackend() };
  const native = tryNativeBackend();
  if (!(native instanceof Error)) return { backend: native };
  if (name === 'native') throw new Error(`the native backend is not available: ${native.message}`);
  return { backend: new JsBackend(), fallbackReason: native.message };
}

function parseBackendName(value: string | undefined): BackendName | 'auto' {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (value === 'native' || value === 'js') return value;
  throw new Error(`STITCH_BACKEND must be native, js or auto (got "${value}")`);
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
  const detail = blas === '' ? '' : `, ${blas}`;
  const why = fallbackReason !== undefined ? ` (native unavailable: ${fallbackReason})` : '';
  return `${current.name} backend, ${current.threads()} thread(s)${detail}${why}`;
}
