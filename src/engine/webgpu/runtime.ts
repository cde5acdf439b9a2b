/// <reference types="@webgpu/types" />
/**
 * The WebGPU runtime under the WGSL kernels: one `GPUDevice`, compute pipelines compiled once
 * and cached by name, a pool of storage buffers, and a batch of dispatches that is encoded into
 * one command encoder (one compute pass) when it is flushed. Reading data back is explicit and
 * asynchronous (`read`). Works the same in Node (Dawn's binding, see node.ts) and in a page
 * (`navigator.gpu`): nothing here imports a Node module.
 */

/** A device-resident array of 32-bit elements (f32, or i32 for row indices). */
export interface GpuArray {
  readonly buffer: GPUBuffer;
  /** elements in use; the pooled buffer may be larger */
  readonly length: number;
}

/** One scalar of a kernel's uniform parameters, in the order of its WGSL `Params` struct. */
export type Param = { u32: number } | { f32: number };

interface Dispatch {
  pipeline: GPUComputePipeline;
  arrays: readonly GpuArray[];
  params: readonly Param[];
  groups: readonly [number, number, number];
}

/** Bytes of one kernel's parameter block: at most 64 scalars, aligned as uniform offsets must be. */
const PARAM_BLOCK_BYTES = 256;
const MIN_BUFFER_BYTES = 256;
const STORAGE_USAGE = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08; /* COPY_DST */
const UNIFORM_USAGE = 0x40 /* UNIFORM */ | 0x08; /* COPY_DST */
const STAGING_USAGE = 0x01 /* MAP_READ */ | 0x08; /* COPY_DST */
const MAP_MODE_READ = 0x01;

/** a bucket of the pool: buffers of a power-of-two byte size */
function bucketBytes(bytes: number): number {
  let size = MIN_BUFFER_BYTES;
  while (size < bytes) size *= 2;
  return size;
}

export class GpuRuntime {
  readonly device: GPUDevice;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly freeBuffers = new Map<number, GPUBuffer[]>();
  private readonly freeStaging = new Map<number, GPUBuffer[]>();
  private pending: Dispatch[] = [];
  private paramArena: GPUBuffer | null = null;
  private paramArenaBlocks = 0;
  /** validation and out-of-memory errors of work already handed to the device, checked at the next read */
  private errorChecks: Promise<GPUError | null>[] = [];
  /** counts, for tests and the benchmark: how often the work reached the GPU */
  readonly stats = { pipelinesCompiled: 0, buffersCreated: 0, dispatches: 0, submits: 0, uploads: 0, bytesCreated: 0 };

  /** workgroups per grid dimension: the device's limit, or less (tests use a small one to reach the 2-D grids) */
  readonly maxWorkgroupsPerDimension: number;

  constructor(device: GPUDevice, options: { maxWorkgroupsPerDimension?: number } = {}) {
    this.device = device;
    this.maxWorkgroupsPerDimension = Math.min(options.maxWorkgroupsPerDimension ?? Infinity, device.limits.maxComputeWorkgroupsPerDimension);
  }

  /** the grid for `total` invocations of a 1-D kernel with `size` threads per workgroup */
  grid(total: number, size: number): [number, number, number] {
    return groups1d(total, size, this.maxWorkgroupsPerDimension);
  }

  /** The compute pipeline `key`, compiled from `source()` the first time it is asked for. */
  pipeline(key: string, source: () => string): GPUComputePipeline {
    let pipeline = this.pipelines.get(key);
    if (pipeline === undefined) {
      this.device.pushErrorScope('validation');
      const module = this.device.createShaderModule({ label: key, code: source() });
      pipeline = this.device.createComputePipeline({ label: key, layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.errorChecks.push(this.device.popErrorScope());
      this.pipelines.set(key, pipeline);
      this.stats.pipelinesCompiled += 1;
    }
    return pipeline;
  }

  /** A pooled array of `length` elements; its contents are whatever the buffer held before. */
  allocate(length: number): GpuArray {
    const bytes = bucketBytes(Math.max(1, length) * 4);
    const buffer = this.freeBuffers.get(bytes)?.pop() ?? this.createBuffer(bytes, STORAGE_USAGE);
    return { buffer, length };
  }

  /**
   * Returns an array's buffer to the pool. Safe while dispatches that use it are still queued:
   * every later use is recorded after them, and the queue runs in order.
   */
  release(array: GpuArray): void {
    const list = this.freeBuffers.get(array.buffer.size) ?? [];
    list.push(array.buffer);
    this.freeBuffers.set(array.buffer.size, list);
  }

  /** A new pooled array holding a copy of `data`. */
  upload(data: Float32Array | Int32Array): GpuArray {
    const array = this.allocate(data.length);
    this.write(array, data);
    return array;
  }

  /** Overwrites the start of `array` with `data`, after every dispatch queued so far. */
  write(array: GpuArray, data: Float32Array | Int32Array): void {
    if (data.length > array.length) throw new RangeError(`write: ${data.length} elements into an array of ${array.length}`);
    // queue.writeBuffer runs before commands not yet submitted: submit those first to keep program order
    this.flush();
    if (data.length > 0) {
      this.device.queue.writeBuffer(array.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
      this.stats.uploads += 1;
    }
  }

  /**
   * New pooled arrays holding copies of `arrays` (a training step's sampled batch) in ONE
   * host-to-device transfer: the arrays are packed into one host buffer, written with one
   * `queue.writeBuffer` into one pooled device buffer, and copied on the device into one pooled
   * array each. Ordered after every dispatch queued so far, like `write`.
   */
  uploadBatch(arrays: readonly (Float32Array | Int32Array)[]): GpuArray[] {
    const total = arrays.reduce((sum, data) => sum + data.length, 0);
    const results = arrays.map((data) => this.allocate(data.length));
    if (total === 0) return results;
    const packed = new Uint32Array(total);
    let offset = 0;
    for (const data of arrays) {
      packed.set(new Uint32Array(data.buffer, data.byteOffset, data.length), offset);
      offset += data.length;
    }
    const staging = this.allocate(total);
    this.flush();
    this.device.queue.writeBuffer(staging.buffer, 0, packed.buffer, 0, packed.byteLength);
    this.stats.uploads += 1;
    const encoder = this.device.createCommandEncoder();
    offset = 0;
    arrays.forEach((data, index) => {
      if (data.length > 0) encoder.copyBufferToBuffer(staging.buffer, offset * 4, results[index]!.buffer, 0, data.length * 4);
      offset += data.length;
    });
    this.device.queue.submit([encoder.finish()]);
    this.stats.submits += 1;
    // the copies were submitted before any later use of the staging buffer: safe to pool it now
    this.release(staging);
    return results;
  }

  /** Queues one dispatch; the work reaches the GPU at the next `flush` (or `read`). */
  dispatch(pipeline: GPUComputePipeline, arrays: readonly GpuArray[], params: readonly Param[], groups: readonly [number, number, number]): void {
    if (params.length * 4 > PARAM_BLOCK_BYTES) throw new RangeError(`dispatch: ${params.length} parameters exceed the block`);
    if (groups.some((g) => g === 0)) return;
    const limit = this.maxWorkgroupsPerDimension;
    if (groups.some((g) => g > limit)) throw new RangeError(`dispatch: workgroups ${groups.join('x')} exceed the device limit ${limit}`);
    // WebGPU rejects a buffer bound twice when one binding writes it, and only reports that asynchronously
    if (new Set(arrays.map((array) => array.buffer)).size !== arrays.length) throw new RangeError(`dispatch ${pipeline.label}: the same buffer is passed twice`);
    this.pending.push({ pipeline, arrays, params, groups });
  }

  /** Encodes every queued dispatch into one command encoder and compute pass, and submits it. */
  flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const arena = this.paramBlocks(batch.length);
    const paramBytes = new ArrayBuffer(batch.length * PARAM_BLOCK_BYTES);
    const view = new DataView(paramBytes);
    batch.forEach((dispatch, index) => {
      dispatch.params.forEach((param, slot) => {
        const offset = index * PARAM_BLOCK_BYTES + slot * 4;
        if ('u32' in param) view.setUint32(offset, param.u32 >>> 0, true);
        else view.setFloat32(offset, param.f32, true);
      });
    });
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    this.device.queue.writeBuffer(arena, 0, paramBytes);
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    batch.forEach((dispatch, index) => {
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: arena, offset: index * PARAM_BLOCK_BYTES, size: PARAM_BLOCK_BYTES } }];
      dispatch.arrays.forEach((array, slot) => entries.push({ binding: slot + 1, resource: { buffer: array.buffer } }));
      const bindGroup = this.device.createBindGroup({ layout: dispatch.pipeline.getBindGroupLayout(0), entries });
      pass.setPipeline(dispatch.pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(dispatch.groups[0], dispatch.groups[1], dispatch.groups[2]);
    });
    pass.end();
    this.device.queue.submit([encoder.finish()]);
    this.errorChecks.push(this.device.popErrorScope(), this.device.popErrorScope());
    this.stats.dispatches += batch.length;
    this.stats.submits += 1;
  }

  /** Copies the first `length` elements (default: all in use) back to the host, after all queued work. */
  async read(array: GpuArray, length = array.length): Promise<Float32Array> {
    const data = await this.readBytes(array, length);
    return new Float32Array(data);
  }

  /** Submits queued work and waits until the device has done it; throws the first error it reported. */
  async idle(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.throwReportedErrors();
  }

  /** A WebGPU validation or out-of-memory error raised by earlier work, as an exception here. */
  private async throwReportedErrors(): Promise<void> {
    const checks = this.errorChecks;
    this.errorChecks = [];
    const errors = (await Promise.all(checks)).filter((error): error is GPUError => error !== null);
    if (errors.length > 0) throw new Error(`WebGPU error: ${errors[0]!.message.split('\n')[0]}`);
  }

  private async readBytes(array: GpuArray, length: number): Promise<ArrayBuffer> {
    if (length > array.length) throw new RangeError(`read: ${length} elements from an array of ${array.length}`);
    this.flush();
    const bytes = bucketBytes(Math.max(1, length) * 4);
    const staging = this.freeStaging.get(bytes)?.pop() ?? this.createBuffer(bytes, STAGING_USAGE);
    const encoder = this.device.createCommandEncoder();
    if (length > 0) encoder.copyBufferToBuffer(array.buffer, 0, staging, 0, length * 4);
    this.device.queue.submit([encoder.finish()]);
    this.stats.submits += 1;
    await this.throwReportedErrors();
    await staging.mapAsync(MAP_MODE_READ, 0, bytes);
    const copy = staging.getMappedRange(0, bytes).slice(0, length * 4);
    staging.unmap();
    const list = this.freeStaging.get(bytes) ?? [];
    list.push(staging);
    this.freeStaging.set(bytes, list);
    return copy;
  }

  /** the uniform buffer that holds one parameter block per dispatch of a batch, grown on demand */
  private paramBlocks(count: number): GPUBuffer {
    if (this.paramArena === null || this.paramArenaBlocks < count) {
      // the old arena may still be read by submitted work; destroy waits for that in WebGPU
      this.paramArena?.destroy();
      this.paramArenaBlocks = Math.max(count, this.paramArenaBlocks * 2, 64);
      this.paramArena = this.device.createBuffer({ size: this.paramArenaBlocks * PARAM_BLOCK_BYTES, usage: UNIFORM_USAGE });
    }
    return this.paramArena;
  }

  private createBuffer(bytes: number, usage: number): GPUBuffer {
    this.stats.buffersCreated += 1;
    // buffers are pooled, never destroyed: the bytes created are the peak device memory the runtime holds
    this.stats.bytesCreated += bytes;
    return this.device.createBuffer({ size: bytes, usage });
  }
}

/** Workgroup counts for `total` invocations of a 1-D kernel with `size` threads per group (2-D past the x limit). */
export function groups1d(total: number, size: number, maxPerDimension: number): [number, number, number] {
  const groups = Math.ceil(total / size);
  if (groups <= maxPerDimension) return [groups, 1, 1];
  const rows = Math.ceil(groups / maxPerDimension);
  if (rows > maxPerDimension) throw new RangeError(`dispatch: ${total} invocations exceed a ${maxPerDimension} x ${maxPerDimension} grid`);
  return [maxPerDimension, rows, 1];
}
