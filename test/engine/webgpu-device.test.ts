/// <reference types="@webgpu/types" />
/** requestDevice never throws: a missing adapter or a failing request is a one-line reason (no GPU needed). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestDevice } from '../../src/engine/webgpu/device.js';

const fakeGpu = (requestAdapter: () => Promise<GPUAdapter | null>): GPU => ({ requestAdapter } as unknown as GPU);

describe('requestDevice', () => {
  it('gives a reason when there is no adapter', async () => {
    assert.deepEqual(await requestDevice(fakeGpu(async () => null)), { ok: false, reason: 'no WebGPU adapter available' });
  });

  it('gives the first line of the error when the adapter request throws', async () => {
    const result = await requestDevice(fakeGpu(async () => { throw new Error('driver exploded\nstack detail'); }));
    assert.deepEqual(result, { ok: false, reason: 'WebGPU adapter request failed: driver exploded' });
  });

  it('gives a reason when the device request fails, after asking only for features the adapter has', async () => {
    let asked: GPUDeviceDescriptor | undefined;
    const adapter = {
      features: new Set(['subgroups', 'timestamp-query']),
      limits: { maxStorageBuffersPerShaderStage: 10, maxStorageBufferBindingSize: 1 << 27, maxBufferSize: 1 << 28 },
      requestDevice: async (descriptor: GPUDeviceDescriptor) => { asked = descriptor; throw new Error('lost'); },
    } as unknown as GPUAdapter;
    const result = await requestDevice(fakeGpu(async () => adapter));
    assert.deepEqual(result, { ok: false, reason: 'WebGPU device request failed: lost' });
    assert.deepEqual(asked?.requiredFeatures, ['subgroups']);
    assert.equal(asked?.requiredLimits?.maxStorageBuffersPerShaderStage, 10);
  });
});
