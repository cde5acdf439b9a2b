/**
 * The WebGPU kernel library: WGSL kernels with the reference backend's semantics and their
 * runtime. Not yet a `Backend`: that needs device-resident tensor storage (docs/engine.md).
 * This entry point imports no Node module, so a page can bundle it; Node code gets a device
 * from ./node.js.
 */
export { GpuRuntime, groups1d, type GpuArray, type Param } from './runtime.js';
export { WebGpuKernels, dropoutThreshold, type GpuGemmCall } from './kernels.js';
export { requestDevice, describeAdapter, OPTIONAL_FEATURES, type DeviceResult } from './device.js';
