/// <reference types="@webgpu/types" />
/**
 * WebGPU in Node through Dawn's binding, the npm package `webgpu` (an optionalDependency: it
 * ships a prebuilt dawn.node per platform, and an install where that fails must still work on
 * the CPU backends). On a machine without a GPU, Dawn finds SwiftShader's Vulkan driver when
 * VK_ICD_FILENAMES points at it (Debian's chromium ships /usr/lib/chromium/vk_swiftshader_icd.json).
 */
import { oneLine, requestDevice, type DeviceResult } from './device.js';

interface DawnModule {
  create(options: string[]): GPU;
  globals: Record<string, unknown>;
}

let cachedGpu: { gpu: GPU } | { reason: string } | undefined;

/** Dawn's `GPU` object, or the one-line reason it cannot be had; loaded once. */
export async function nodeGpu(): Promise<{ gpu: GPU } | { reason: string }> {
  if (cachedGpu !== undefined) return cachedGpu;
  try {
    const dawn = (await import('webgpu')) as unknown as DawnModule;
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
