/**
 * The wasm backend as training uses it: every tensor lives in the module's linear memory (a
 * `WasmArray`: a byte offset and a length), so a kernel runs on its operands where they are and
 * no op copies anything in or out. Only a step's sampled batch is copied in (one `uploadBatch`),
 * and values come back through explicit reads, as on the webgpu backend: `resident` is true, so
 * the tensor layer, the optimizers and the trainer take the device paths (tested there for every
 * algorithm), and evaluation, checkpoints and acting run on the host wasm backend (`host`), on the
 * same kernels.
 *
 * Why offsets and not `Float32Array` views as storage: growing a WebAssembly memory detaches every
 * view of it, and the memory grows whenever an allocation (or a kernel's scratch) needs more. Views
 * are made per kernel call, from the memory of that moment, and never kept.
 *
 * Memory: arrays are pooled by length (a training step allocates the same sizes every time), and
 * one the tensor layer never releases goes back to the pool when it is garbage collected.
 */
import { isWasmArray, type FloatArray, type IndexStorage, type NormArray, type Storage, type WasmArray } from '../backend.js';
import { Scalar } from '../scalar.js';
import { HostTensorBackend } from './host.js';
import type { WasmBackend } from './wasm.js';

/** one-element results (norms, guards) kept alive for a few more kernels, then pooled, as on webgpu */
const RECENT_ARRAYS = 16;

class ResidentArray implements WasmArray {
  constructor(readonly pointer: number, readonly length: number) {}
}

export class WasmResidentBackend extends HostTensorBackend {
  override readonly resident = true;
  /** free pointers by element count */
  private readonly pool = new Map<number, number[]>();
  /** arrays handed out and not yet released (a second release of one is ignored) */
  private readonly live = new WeakSet<WasmArray>();
  private readonly collected: FinalizationRegistry<{ pointer: number; length: number }>;
  private readonly recent: WasmArray[] = [];
  /** element counts allocated from the module and not freed back to it (pooled or in use) */
  readonly stats = { arrays: 0, elements: 0 };

  constructor(readonly wasm: WasmBackend, readonly host: HostTensorBackend) {
    super(wasm, () => `${wasm.describe()}, tensors in the module's memory while training`);
    this.collected = new FinalizationRegistry(({ pointer, length }) => this.recycle(pointer, length));
  }

  protected override array(storage: Storage): FloatArray {
    if (!isWasmArray(storage)) throw new TypeError('an array outside the wasm module reached its training backend (tensors of two backends mixed)');
    return new Float32Array(this.wasm.memory, storage.pointer, storage.length);
  }

  protected override indices(storage: IndexStorage): Int32Array {
    if (!isWasmArray(storage)) throw new TypeError('indices outside the wasm module reached its training backend (tensors of two backends mixed)');
    return new Int32Array(this.wasm.memory, storage.pointer, storage.length);
  }

  override allocate(n: number): WasmArray {
    let pointer = this.pool.get(n)?.pop();
    if (pointer === undefined) {
      pointer = this.wasm.allocateBytes(Math.max(1, n) * 4);
      if (pointer === 0) {
        // the pool may hold what is needed in other sizes
        this.trim();
        pointer = this.wasm.allocateBytes(Math.max(1, n) * 4);
      }
      if (pointer === 0) throw new RangeError(`wasm backend: out of memory allocating ${n} floats (the module's memory is ${(this.wasm.memory.byteLength / 2 ** 20).toFixed(0)} MiB; 4096 MiB at most)`);
      this.stats.arrays += 1;
      this.stats.elements += n;
    }
    const array = new ResidentArray(pointer, n);
    this.live.add(array);
    this.collected.register(array, { pointer, length: n }, array);
    return array;
  }

  override release(storage: Storage): void {
    if (!isWasmArray(storage) || !this.live.has(storage)) return;
    this.live.delete(storage);
    this.collected.unregister(storage);
    this.recycle(storage.pointer, storage.length);
  }

  private recycle(pointer: number, length: number): void {
    const list = this.pool.get(length);
    if (list === undefined) this.pool.set(length, [pointer]);
    else list.push(pointer);
  }

  /** frees every pooled array back to the module's allocator */
  trim(): void {
    for (const [length, pointers] of this.pool) {
      for (const pointer of pointers) this.wasm.freeBytes(pointer);
      this.stats.arrays -= pointers.length;
      this.stats.elements -= pointers.length * length;
    }
    this.pool.clear();
  }

  override upload(data: Float32Array): WasmArray {
    const storage = this.allocate(data.length);
    this.array(storage).set(data);
    return storage;
  }

  override uploadIndices(data: Int32Array): WasmArray {
    const storage = this.allocate(data.length);
    this.indices(storage).set(data);
    return storage;
  }

  override uploadBatch(arrays: readonly (Float32Array | Int32Array)[]): (Storage | IndexStorage)[] {
    return arrays.map((data) => (data instanceof Int32Array ? this.uploadIndices(data) : this.upload(data)));
  }

  /** a value computed now, held as a device value: in a one-element array that guards the optimizer kernels */
  private later(value: number): Scalar {
    const storage = this.allocate(1);
    this.array(storage)[0] = value;
    this.recent.push(storage);
    if (this.recent.length > RECENT_ARRAYS) this.release(this.recent.shift()!);
    return Scalar.later(() => Promise.resolve(value), storage);
  }

  override clipByGlobalNorm(arrays: readonly NormArray[], maxNorm: number | null, eps: number): Scalar {
    return this.later(super.clipByGlobalNorm(arrays, maxNorm, eps).now);
  }

  override finiteGuard(loss: Storage, norm: Scalar): Scalar {
    if (norm.storage === undefined) throw new TypeError('finiteGuard: the norm is not a device value');
    const finite = Number.isFinite(this.array(loss)[0]) && Number.isFinite(this.array(norm.storage)[0]);
    return this.later(finite ? 0 : Number.NaN);
  }

  override countNonFinite(arrays: readonly NormArray[]): Scalar {
    return this.later(super.countNonFinite(arrays).now);
  }
}
