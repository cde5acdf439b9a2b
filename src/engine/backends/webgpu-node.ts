/**
 * The webgpu backend in Node: Dawn's binding (the optional npm package `webgpu`, see
 * webgpu/node.ts). Never throws for a missing package, adapter or device: the caller gets a
 * one-line reason and falls back to a CPU backend.
 */
import { requestNodeDevice } from '../webgpu/node.js';
import { WebGpuBackend } from './webgpu.js';

export async function createNodeWebGpuBackend(options: GPURequestAdapterOptions = { powerPreference: 'high-performance' }): Promise<WebGpuBackend | { reason: string }> {
  const result = await requestNodeDevice(options);
  if (!result.ok) return { reason: result.reason };
  const gpu = new WebGpuBackend(result.device, result.adapter);
  // fault injection for the device-loss tests: the device is lost before read N + 1
  const setting = process.env.STITCH_WEBGPU_LOSE_DEVICE_AFTER_READS;
  const loseAfter = setting === undefined || setting.trim() === '' ? Number.NaN : Number(setting);
  if (Number.isSafeInteger(loseAfter) && loseAfter >= 0) {
    gpu.onRead = (reads) => {
      if (reads > loseAfter) gpu.loseDevice('simulated by STITCH_WEBGPU_LOSE_DEVICE_AFTER_READS');
    };
  }
  return gpu;
}
