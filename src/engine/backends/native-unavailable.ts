/**
 * What a page gets instead of ./native-loader.js (the package.json `browser` field): the same
 * exports, with no Node built-in and no addon; backend selection then falls back to the
 * TypeScript kernels.
 */
import type { Backend } from '../backend.js';
import type { NativeBackend } from './native.js';

export function loadNativeBackend(): NativeBackend | Error {
  return new Error('the native backend runs in Node only');
}

export function blasInfo(_backend: Backend): string {
  return '';
}
