/// <reference types="@webgpu/types" />
/**
 * WebGPU in Node through Dawn's binding, the npm package `webgpu` (an optionalDependency: it
 * ships a prebuilt dawn.node per platform, and an install where that fails must still work on
 * the CPU backends). On a machine without a GPU, Dawn finds SwiftShader's Vulkan driver when
 * VK_ICD_FILENAMES points at it (Debian's chromium ships /usr/lib/chromium/vk_swiftshader_icd.json).
 */
import { describeAdapter, oneLine, requestDevice, type DeviceResult } from './device.js';

interface DawnModule {
  create(options: string[]): GPU;
  globals: Record<string, unknown>;
}

let cachedGpu: { gpu: GPU } | { reason: string } | undefined;

/** Dawn's `GPU` object, or the one-line reason it cannot be had; loaded once. */
export async function nodeGpu(): Promise<{ gpu: GPU } | { reason: string }> {
  if (cachedGpu !== undefined) return cachedGpu;
  try {
    // a computed specifier: the package is optional, so neither tsc nor a bundler may require it
    const specifier = 'webgpu';
    const dawn = (await import(specifier)) as DawnModule;
    // the binding's classes (GPUBufferUsage, ...) are globals in a browser; Dawn expects them too
    for (const [name, value] of Object.entries(dawn.globals)) {
      if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
    }
    cachedGpu = { gpu: dawn.create([]) };
  } catch (error) {
    cachedGpu = { reason: `the optional package "webgpu" (Dawn) is not usable: ${oneLine(error)}` };
  }
  return cachedGpu;
}

/** A device from Dawn, or a one-line reason (no package, no adapter, no device). */
export async function requestNodeDevice(options: GPURequestAdapterOptions = {}): Promise<DeviceResult> {
  const loaded = await nodeGpu();
  if ('reason' in loaded) return { ok: false, reason: loaded.reason };
  return requestDevice(loaded.gpu, options);
}

/** how long `describeNodeAdapters` waits for an adapter before it gives up (a broken driver can hang) */
const ADAPTER_TIMEOUT_MS = 15_000;

/**
 * Lines for `stitch info`: each adapter Dawn offers (the default one and, when different, the
 * software fallback) with its key limits, or one line saying why there is none. Never throws.
 */
export async function describeNodeAdapters(): Promise<string[]> {
  const loaded = await nodeGpu();
  if ('reason' in loaded) return [`webgpu: unavailable (${loaded.reason})`];
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const options of [{ powerPreference: 'high-performance' }, { forceFallbackAdapter: true }] as GPURequestAdapterOptions[]) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), ADAPTER_TIMEOUT_MS); });
    let adapter: GPUAdapter | null | 'timeout';
    try {
      adapter = await Promise.race([loaded.gpu.requestAdapter(options), timeout]);
    } catch (error) {
      adapter = null;
      lines.push(`webgpu: adapter request failed (${oneLine(error)})`);
    } finally {
      clearTimeout(timer);
    }
    if (adapter === 'timeout') {
      lines.push(`webgpu: no answer from the adapter request within ${ADAPTER_TIMEOUT_MS / 1000} s`);
      break;
    }
    if (adapter === null) continue;
    const [name, ...details] = describeAdapter(adapter);
    if (name === undefined || seen.has(name)) continue;
    seen.add(name);
    lines.push(`webgpu: ${name}`, ...details.map((detail) => `  ${detail}`));
  }
  if (lines.length === 0) {
    lines.push('webgpu: no adapter (without a GPU, set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json for SwiftShader)');
  }
  return lines;
}
