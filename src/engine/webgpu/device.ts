/// <reference types="@webgpu/types" />
/**
 * Finding a WebGPU device: in a page from `navigator.gpu`, in Node from Dawn's binding (the
 * optional npm package `webgpu`, see node.ts). Never throws for a missing package, adapter or
 * device: the caller gets a one-line reason and decides what to fall back to.
 */

export type DeviceResult =
  | { ok: true; device: GPUDevice; adapter: GPUAdapter; features: readonly string[] }
  | { ok: false; reason: string };

/** optional features the kernels use when the adapter offers them (an f32 path always exists) */
export const OPTIONAL_FEATURES = ['shader-f16', 'subgroups'] as const;

/** Asks `gpu` for an adapter and a device with the adapter's best limits for compute. */
export async function requestDevice(gpu: GPU, options: GPURequestAdapterOptions = {}): Promise<DeviceResult> {
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter(options);
  } catch (error) {
    return { ok: false, reason: `WebGPU adapter request failed: ${oneLine(error)}` };
  }
  if (adapter === null) return { ok: false, reason: 'no WebGPU adapter available' };
  const features = OPTIONAL_FEATURES.filter((feature) => adapter.features.has(feature));
  try {
    const device = await adapter.requestDevice({
      requiredFeatures: features as unknown as GPUFeatureName[],
      requiredLimits: {
        maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
      },
    });
    return { ok: true, device, adapter, features };
  } catch (error) {
    return { ok: false, reason: `WebGPU device request failed: ${oneLine(error)}` };
  }
}

/** A few lines describing an adapter and the limits that matter for the kernels. */
export function describeAdapter(adapter: GPUAdapter): string[] {
  const info = adapter.info;
  const maker = [info.vendor, info.architecture].filter((part) => part !== '').join(' ') || 'unnamed adapter';
  const name = info.description !== '' ? `${maker}: ${info.description}` : maker;
  const limits = adapter.limits;
  const mib = (bytes: number): string => `${Math.round(bytes / 1048576)} MiB`;
  const features = [...adapter.features].filter((feature) => (OPTIONAL_FEATURES as readonly string[]).includes(feature));
  return [
    `${name}${info.isFallbackAdapter ? ' (software fallback)' : ''}`,
    `max buffer ${mib(limits.maxBufferSize)}, max storage binding ${mib(limits.maxStorageBufferBindingSize)}, `
      + `workgroup memory ${limits.maxComputeWorkgroupStorageSize} B, ${limits.maxComputeInvocationsPerWorkgroup} invocations per workgroup`,
    `optional features: ${features.length > 0 ? features.join(', ') : 'none (f32 path)'}`,
  ];
}

export function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]?.trim() ?? '';
}
