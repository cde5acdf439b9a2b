/**
 * Tensors and reverse-mode automatic differentiation.
 *
 * A tensor is a shape and a flat row-major typed array. An op that has an input requiring a
 * gradient records a node: its inputs and a closure that, given the output's gradient, adds
 * into the inputs' gradients. `backward()` walks those nodes in reverse topological order.
 *
 * Storage: a tensor owns a storage handle of the backend that made it: a host typed array on the
 * CPU backends (js, native, wasm), a device array on webgpu. Ops call the backend's kernels on
 * handles, so they run where the data is. `data` (synchronous host access) exists only for host
 * storage; `await tensor.read()` works everywhere.
 *
 * Memory: inside `tidy(fn)`, every tensor created is tracked and its buffers go back to a pool
 * when `fn` returns (except what `fn` returns), so a training step reuses the same buffers
 * step after step instead of allocating. A released tensor is poisoned: using it throws.
 */
import { isHostStorage, type FloatArray, type IndexStorage, type Storage, type TensorBackend } from './backend.js';
import { backend } from './backends/index.js';
import { kernels } from './ops/kernels.js';
import { captureScalar } from './scalar-board.js';
import { Scalar } from './scalar.js';

export type DType = 'float32' | 'float64';

let defaultDType: DType = 'float32';

export function getDefaultDType(): DType {
  return defaultDType;
}

/** Run fn with another default dtype (float64 is for gradient checks on the js backend). */
export function withDefaultDType<T>(dtype: DType, fn: () => T): T {
  const previous = defaultDType;
  defaultDType = dtype;
  try {
    return fn();
  } finally {
    defaultDType = previous;
  }
}

export function allocate(dtype: DType, n: number): FloatArray {
  return dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
}

export function dtypeOf(storage: Storage): DType {
  return storage instanceof Float64Array ? 'float64' : 'float32';
}

/** the backend that keeps float32 storage on a device, or null when storage is host memory */
function residentBackend(dtype: DType): TensorBackend | null {
  if (dtype === 'float64') return null;
  const active = backend();
  return active.resident ? active : null;
}

/** new (unpooled) storage of n elements where the active backend keeps data */
export function allocateStorage(dtype: DType, n: number): Storage {
  return residentBackend(dtype)?.allocate(n) ?? allocate(dtype, n);
}

/** pooled storage for a buffer an op frees itself (releaseStorage) before its scope ends */
export function acquireStorage(dtype: DType, n: number): Storage {
  // a device backend pools its own buffers
  return residentBackend(dtype)?.allocate(n) ?? bufferPool.acquire(dtype, n);
}

export function releaseStorage(storage: Storage): void {
  if (isHostStorage(storage)) bufferPool.release(storage);
  else backend().release(storage);
}

/** A one-element tensor's value as a Scalar: known now on the CPU, captured for a later read on a device. */
export function keepScalar(t: Tensor): Scalar {
  t.assertLive('keepScalar');
  if (t.size !== 1) throw new RangeError(`keepScalar needs a tensor with one element, got shape ${formatShape(t.shape)}`);
  return isHostStorage(t.storage) ? Scalar.of(t.storage[0]!) : captureScalar(backend(), t.storage);
}

/** host storage as its typed array; throws for a device array (read it with readStorage) */
export function hostArray(storage: Storage): FloatArray {
  if (!isHostStorage(storage)) throw new Error(`an array of the ${backend().name} device was needed on the host: read it first (await readStorage)`);
  return storage;
}

/** overwrites the start of any storage with host values */
export function writeStorage(storage: Storage, values: ArrayLike<number>): void {
  if (isHostStorage(storage)) storage.set(values);
  else backend().write(storage, values instanceof Float32Array ? values : Float32Array.from(values));
}

/** a host copy of the first n elements of any storage */
export function readStorage(storage: Storage, n: number = storage.length): Promise<FloatArray> {
  return isHostStorage(storage) ? Promise.resolve(storage.slice(0, n)) : backend().read(storage, n);
}

/** Free lists of buffers by dtype and length. Acquired buffers hold stale values. */
class BufferPool {
  private readonly free = new Map<string, FloatArray[]>();
  private retainedElements = 0;

  acquire(dtype: DType, n: number): FloatArray {
    const list = this.free.get(`${dtype}:${n}`);
    const buffer = list?.pop();
    if (buffer !== undefined) {
      this.retainedElements -= n;
      return buffer;
    }
    return allocate(dtype, n);
  }

  release(buffer: FloatArray): void {
    if (buffer.length === 0) return;
    const key = `${dtypeOf(buffer)}:${buffer.length}`;
    let list = this.free.get(key);
    if (list === undefined) {
      list = [];
      this.free.set(key, list);
    }
    list.push(buffer);
    this.retainedElements += buffer.length;
  }

  /** elements held by free buffers, for memory tests and benchmarks */
  retained(): number {
    return this.retainedElements;
  }

  clear(): void {
    this.free.clear();
    this.retainedElements = 0;
  }
}

export const bufferPool = new BufferPool();

interface Scope {
  tensors: Tensor[];
  /** non-tensor buffers (op scratch such as attention probabilities, uploaded masks) released with the scope */
  buffers: Storage[];
}

const scopes: Scope[] = [];
let gradEnabled = true;

function currentScope(): Scope | undefined {
  return scopes[scopes.length - 1];
}

/** A buffer for op-internal state (saved statistics); pooled and freed with the current scope. */
export function scratch(dtype: DType, n: number): Storage {
  const scope = currentScope();
  if (scope === undefined) return allocateStorage(dtype, n);
  const buffer = acquireStorage(dtype, n);
  scope.buffers.push(buffer);
  return buffer;
}

/** device copies of host arrays made by stageUploads, found by the array's identity */
const staged = new Map<FloatArray | Int32Array, Storage | IndexStorage>();

/**
 * Uploads several host arrays in one transfer (a training step's sampled batch: states, actions,
 * returns-to-go, mask, timesteps), so that every later Tensor.borrow, hostInput or hostIndices of
 * one of these arrays uses the device copy instead of uploading again. Returns the function that
 * frees the copies (call it when the step's work is queued). Nothing happens on the CPU backends.
 */
export function stageUploads(arrays: readonly (Float32Array | Int32Array)[]): () => void {
  const device = residentBackend('float32');
  if (device === null || arrays.length === 0) return () => undefined;
  const distinct = [...new Set(arrays)];
  const uploaded = device.uploadBatch(distinct);
  distinct.forEach((array, i) => staged.set(array, uploaded[i]!));
  return () => {
    distinct.forEach((array, i) => {
      if (staged.get(array) === uploaded[i]) staged.delete(array);
      device.release(uploaded[i] as Storage);
    });
  };
}

/**
 * Host values an op needs where the tensors are (a loss's row weights, a key mask): the array
 * itself on the CPU backends, a device copy freed with the current scope on a device.
 */
export function hostInput(dtype: DType, values: FloatArray): Storage {
  const device = residentBackend(dtype);
  if (device === null) return values;
  const copy = staged.get(values);
  if (copy !== undefined && copy.length === values.length) return copy as Storage;
  const uploaded = device.upload(values instanceof Float32Array ? values : Float32Array.from(values));
  currentScope()?.buffers.push(uploaded);
  return uploaded;
}

/** Row indices where the tensors are, as hostInput. */
export function hostIndices(dtype: DType, indices: Int32Array): IndexStorage {
  const device = residentBackend(dtype);
  if (device === null) return indices;
  const copy = staged.get(indices);
  if (copy !== undefined) return copy as IndexStorage;
  const uploaded = device.uploadIndices(indices);
  // index arrays are device arrays of 32-bit elements too, pooled with the rest
  if (!isHostStorage(uploaded)) currentScope()?.buffers.push(uploaded);
  return uploaded;
}

function keptTensors(value: unknown): Set<Tensor> {
  const kept = new Set<Tensor>();
  if (value instanceof Tensor) kept.add(value);
  else if (Array.isArray(value)) for (const v of value) if (v instanceof Tensor) kept.add(v);
  else if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) if (v instanceof Tensor) kept.add(v);
  }
  return kept;
}

/**
 * Run fn; every tensor it creates is released to the pool afterwards, except those it returns
 * (directly, in an array, or as values of a plain object), which move to the enclosing scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope: Scope = { tensors: [], buffers: [] };
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const kept = keptTensors(result);
  const parent = currentScope();
  for (const tensor of scope.tensors) {
    if (kept.has(tensor)) parent?.tensors.push(tensor);
    else tensor.release();
  }
  for (const buffer of scope.buffers) releaseStorage(buffer);
  return result;
}

/** Run fn without recording anything for backward. */
export function noGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`invalid shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Adds the gradient flowing into one input: `into(buffer, accumulate)` writes or adds to buffer. */
export type GradSink = (input: Tensor, into: (buffer: Storage, accumulate: boolean) => void) => void;

interface TapeNode {
  inputs: Tensor[];
  /** propagate `grad` (the output's gradient) into the inputs through `sink` */
  backward: (grad: Storage, sink: GradSink) => void;
  op: string;
}

export class Tensor {
  readonly shape: readonly number[];
  readonly size: number;
  readonly dtype: DType;
  /** where the values live: a host array or a device backend's handle */
  storage: Storage;
  /** gradient storage; meaningful only when gradValid */
  grad: Storage | null = null;
  /** false after zeroGrad or before any gradient arrived: grad's contents are stale */
  gradValid = false;
  requiresGrad: boolean;
  node: TapeNode | null = null;
  /** true when the storage is borrowed (a reshape view, a caller's array) and must not be pooled */
  private readonly borrowsData: boolean;
  private released = false;

  constructor(storage: Storage, shape: readonly number[], options: { requiresGrad?: boolean; borrowsData?: boolean; track?: boolean } = {}) {
    const size = shapeSize(shape);
    if (storage.length !== size) throw new RangeError(`tensor data has ${storage.length} elements but shape ${formatShape(shape)} needs ${size}`);
    this.shape = Object.freeze([...shape]);
    this.size = size;
    this.dtype = dtypeOf(storage);
    this.storage = storage;
    this.requiresGrad = options.requiresGrad ?? false;
    this.borrowsData = options.borrowsData ?? false;
    if (options.track ?? true) currentScope()?.tensors.push(this);
  }

  /** the values as a host array (CPU backends only: a device tensor is read with `await read()`) */
  get data(): FloatArray {
    const { storage } = this;
    if (!isHostStorage(storage)) throw new Error(`this tensor ${formatShape(this.shape)} lives on the ${backend().name} device: read it with await tensor.read()`);
    return storage;
  }

  /** true when the values live on a device (read them with `await read()`) */
  get onDevice(): boolean {
    return !isHostStorage(this.storage);
  }

  /** uninitialised (pooled inside tidy) */
  static empty(shape: readonly number[], dtype: DType = defaultDType): Tensor {
    const n = shapeSize(shape);
    return new Tensor(currentScope() === undefined ? allocateStorage(dtype, n) : acquireStorage(dtype, n), shape);
  }

  /**
   * A tensor over an existing host array (a sampler's batch buffer): never copied, never pooled
   * on the CPU backends; on a device, a copy uploaded there.
   */
  static borrow(data: FloatArray, shape: readonly number[]): Tensor {
    const device = residentBackend(dtypeOf(data));
    if (device === null) return new Tensor(data, shape, { borrowsData: true });
    const copy = staged.get(data);
    if (copy !== undefined) return new Tensor(copy as Storage, shape, { borrowsData: true });
    return new Tensor(device.upload(data as Float32Array), shape);
  }

  static zeros(shape: readonly number[], dtype: DType = defaultDType): Tensor {
    return Tensor.full(shape, 0, dtype);
  }

  static full(shape: readonly number[], value: number, dtype: DType = defaultDType): Tensor {
    const t = Tensor.empty(shape, dtype);
    kernels(dtype).fill(t.storage, value, t.size);
    return t;
  }

  /** copies values into a new tensor of the default dtype (or the given one) */
  static from(values: ArrayLike<number>, shape: readonly number[] = [values.length], dtype: DType = defaultDType): Tensor {
    const n = shapeSize(shape);
    if (n !== values.length) throw new RangeError(`Tensor.from: ${values.length} values for shape ${formatShape(shape)}`);
    const device = residentBackend(dtype);
    if (device !== null) {
      const t = Tensor.empty(shape, dtype);
      device.write(t.storage, Float32Array.from(values));
      return t;
    }
    const t = Tensor.empty(shape, dtype);
    const data = t.storage as FloatArray;
    for (let i = 0; i < values.length; i++) data[i] = values[i] as number;
    return t;
  }

  static scalar(value: number, dtype: DType = defaultDType): Tensor {
    return Tensor.from([value], [], dtype);
  }

  get rank(): number {
    return this.shape.length;
  }

  /** the one value, now (host storage only; `await read()` on a device) */
  item(): number {
    this.assertLive('item');
    if (this.size !== 1) throw new RangeError(`item() needs a tensor with one element, got shape ${formatShape(this.shape)}`);
    return this.data[0] as number;
  }

  toArray(): number[] {
    this.assertLive('toArray');
    return Array.from(this.data);
  }

  /** a host copy of the values, after all queued work (the one way to read a device tensor) */
  read(): Promise<FloatArray> {
    this.assertLive('read');
    return readStorage(this.storage, this.size);
  }

  /** overwrites every value (from the host) */
  write(values: FloatArray): void {
    this.assertLive('write');
    if (values.length !== this.size) throw new RangeError(`write: ${values.length} values for shape ${formatShape(this.shape)}`);
    if (isHostStorage(this.storage)) this.storage.set(values);
    else backend().write(this.storage, values);
  }

  /** a tensor sharing this one's values but cut from the tape */
  detach(): Tensor {
    this.assertLive('detach');
    return new Tensor(this.storage, this.shape, { borrowsData: true });
  }

  assertLive(op: string): void {
    if (this.released) throw new Error(`${op}: tensor was released (used outside the tidy() that created it)`);
  }

  /** Return the buffers to the pool and poison the tensor. */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (!this.borrowsData) releaseStorage(this.storage);
    if (this.grad !== null) releaseStorage(this.grad);
    this.storage = new Float32Array(0);
    this.grad = null;
    this.node = null;
  }

  /** Reverse-mode differentiation from a scalar (or with an explicit seed gradient). */
  backward(seed?: FloatArray): void {
    this.assertLive('backward');
    if (!this.requiresGrad) throw new Error('backward(): this tensor does not depend on any tensor that requires a gradient');
    if (seed === undefined && this.size !== 1) {
      throw new RangeError(`backward() needs a scalar (got shape ${formatShape(this.shape)}); pass a seed gradient otherwise`);
    }
    const order = topologicalOrder(this);
    const start = gradBufferOf(this);
    if (seed === undefined) kernels(this.dtype).fill(start, 1, this.size);
    else if (isHostStorage(start)) start.set(seed);
    else backend().write(start, seed);
    this.gradValid = true;

    const sink: GradSink = (input, into) => {
      if (!input.requiresGrad) return;
      const buffer = gradBufferOf(input);
      into(buffer, input.gradValid);
      input.gradValid = true;
    };
    for (let i = order.length - 1; i >= 0; i--) {
      const tensor = order[i] as Tensor;
      const node = tensor.node;
      if (node === null || !tensor.gradValid || tensor.grad === null) continue;
      node.backward(tensor.grad, sink);
      // interior gradients are spent once propagated; hand their buffers back early
      if (tensor !== this) {
        releaseStorage(tensor.grad);
        tensor.grad = null;
        tensor.gradValid = false;
      }
      tensor.node = null;
    }
  }
}

/**
 * A trainable leaf: its gradient buffer persists across steps and is never pooled. Parameters
 * start in host memory, where initialization and checkpoints write them; `place()` moves them to
 * a device backend before training there.
 */
export class Parameter extends Tensor {
  constructor(data: Storage, shape: readonly number[], readonly name = '') {
    super(data, shape, { requiresGrad: true, track: false });
  }

  static create(shape: readonly number[], name = '', dtype: DType = defaultDType): Parameter {
    return new Parameter(allocate(dtype, shapeSize(shape)), shape, name);
  }

  /** moves the values to where the active backend keeps data (nothing to do on the CPU backends) */
  place(): void {
    const device = residentBackend(this.dtype);
    if (device === null || !isHostStorage(this.storage)) return;
    this.storage = device.upload(Float32Array.from(this.storage));
    if (this.grad !== null) {
      this.grad = device.allocate(this.size);
      this.gradValid = false;
    }
  }

  /** moves the values back to host memory (before acting or saving on the CPU) */
  async unplace(): Promise<void> {
    if (isHostStorage(this.storage)) return;
    const values = await readStorage(this.storage, this.size);
    this.storage = values;
    this.grad = null;
    this.gradValid = false;
  }

  override release(): void {
    // parameters live as long as their module
  }

  zeroGrad(): void {
    this.gradValid = false;
  }

  /** the gradient, or zeros when none arrived since the last zeroGrad */
  gradOrZeros(): Storage {
    const grad = gradBufferOf(this);
    if (!this.gradValid) {
      kernels(this.dtype).fill(grad, 0, this.size);
      this.gradValid = true;
    }
    return grad;
  }
}

function gradBufferOf(tensor: Tensor): Storage {
  if (tensor.grad === null) {
    const onHost = isHostStorage(tensor.storage);
    tensor.grad = tensor instanceof Parameter
      ? (onHost ? allocate(tensor.dtype, tensor.size) : backend().allocate(tensor.size))
      : (onHost ? bufferPool.acquire(tensor.dtype, tensor.size) : acquireStorage(tensor.dtype, tensor.size));
    tensor.gradValid = false;
  }
  return tensor.grad;
}

function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: Array<{ tensor: Tensor; next: number }> = [{ tensor: root, next: 0 }];
  visited.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as { tensor: Tensor; next: number };
    const inputs = top.tensor.node?.inputs ?? [];
    if (top.next < inputs.length) {
      const input = inputs[top.next++] as Tensor;
      if (!visited.has(input) && input.requiresGrad) {
        visited.add(input);
        stack.push({ tensor: input, next: 0 });
      }
    } else {
      order.push(top.tensor);
      stack.pop();
    }
  }
  return order;
}

/**
 * Create an op's output and, when grad is on and an input needs one, its tape node.
 * `backward` receives the output's gradient and a sink for each input.
 */
export function record(
  op: string,
  output: Tensor,
  inputs: Tensor[],
  backward: (grad: Storage, sink: GradSink) => void,
): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    output.requiresGrad = true;
    output.node = { inputs, backward, op };
  }
  return output;
}

export function assertSameDType(op: string, ...tensors: Tensor[]): DType {
  const dtype = (tensors[0] as Tensor).dtype;
  for (const t of tensors) {
    t.assertLive(op);
    if (t.dtype !== dtype) throw new TypeError(`${op}: mixed dtypes ${tensors.map((x) => x.dtype).join(', ')}`);
  }
  return dtype;
}
