/**
 * Tensors and reverse-mode automatic differentiation.
 *
 * A tensor is a shape and a flat row-major typed array. An op that has an input requiring a
 * gradient records a node: its inputs and a closure that, given the output's gradient, adds
 * into the inputs' gradients. `backward()` walks those nodes in reverse topological order.
 *
 * Memory: inside `tidy(fn)`, every tensor created is tracked and its buffers go back to a pool
 * when `fn` returns (except what `fn` returns), so a training step reuses the same buffers
 * step after step instead of allocating. A released tensor is poisoned: using it throws.
 */
import type { FloatArray } from './backend.js';

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

export function dtypeOf(data: FloatArray): DType {
  return data instanceof Float32Array ? 'float32' : 'float64';
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
  /** non-tensor buffers (op scratch such as attention probabilities) released with the scope */
  buffers: FloatArray[];
}

const scopes: Scope[] = [];
let gradEnabled = true;

function currentScope(): Scope | undefined {
  return scopes[scopes.length - 1];
}

/** A buffer for op-internal state (saved statistics); pooled and freed with the current scope. */
export function scratch(dtype: DType, n: number): FloatArray {
  const scope = currentScope();
  if (scope === undefined) return allocate(dtype, n);
  const buffer = bufferPool.acquire(dtype, n);
  scope.buffers.push(buffer);
  return buffer;
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
  for (const buffer of scope.buffers) bufferPool.release(buffer);
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
export type GradSink = (input: Tensor, into: (buffer: FloatArray, accumulate: boolean) => void) => void;

interface TapeNode {
  inputs: Tensor[];
  /** propagate `grad` (the output's gradient) into the inputs through `sink` */
  backward: (grad: FloatArray, sink: GradSink) => void;
  op: string;
}

export class Tensor {
  readonly shape: readonly number[];
  readonly size: number;
  readonly dtype: DType;
  data: FloatArray;
  /** gradient buffer; meaningful only when gradValid */
  grad: FloatArray | null = null;
  /** false after zeroGrad or before any gradient arrived: grad's contents are stale */
  gradValid = false;
  requiresGrad: boolean;
  node: TapeNode | null = null;
  /** true when data is borrowed from another tensor (a reshape view) and must not be pooled */
  private readonly borrowsData: boolean;
  private released = false;

  constructor(data: FloatArray, shape: readonly number[], options: { requiresGrad?: boolean; borrowsData?: boolean; track?: boolean } = {}) {
    const size = shapeSize(shape);
    if (data.length !== size) throw new RangeError(`tensor data has ${data.length} elements but shape ${formatShape(shape)} needs ${size}`);
    this.shape = Object.freeze([...shape]);
    this.size = size;
    this.dtype = dtypeOf(data);
    this.data = data;
    this.requiresGrad = options.requiresGrad ?? false;
    this.borrowsData = options.borrowsData ?? false;
    if (options.track ?? true) currentScope()?.tensors.push(this);
  }

  /** uninitialised (pooled inside tidy) */
  static empty(shape: readonly number[], dtype: DType = defaultDType): Tensor {
    const n = shapeSize(shape);
    const scope = currentScope();
    return new Tensor(scope === undefined ? allocate(dtype, n) : bufferPool.acquire(dtype, n), shape);
  }

  /** a tensor over an existing array (a sampler's batch buffer): never copied, never pooled */
  static borrow(data: FloatArray, shape: readonly number[]): Tensor {
    return new Tensor(data, shape, { borrowsData: true });
  }

  static zeros(shape: readonly number[], dtype: DType = defaultDType): Tensor {
    const t = Tensor.empty(shape, dtype);
    t.data.fill(0);
    return t;
  }

  static full(shape: readonly number[], value: number, dtype: DType = defaultDType): Tensor {
    const t = Tensor.empty(shape, dtype);
    t.data.fill(value);
    return t;
  }

  /** copies values into a new tensor of the default dtype (or the given one) */
  static from(values: ArrayLike<number>, shape: readonly number[] = [values.length], dtype: DType = defaultDType): Tensor {
    const t = Tensor.empty(shape, dtype);
    if (t.size !== values.length) throw new RangeError(`Tensor.from: ${values.length} values for shape ${formatShape(shape)}`);
    for (let i = 0; i < values.length; i++) t.data[i] = values[i] as number;
    return t;
  }

  static scalar(value: number, dtype: DType = defaultDType): Tensor {
    return Tensor.from([value], [], dtype);
  }

  get rank(): number {
    return this.shape.length;
  }

  item(): number {
    this.assertLive('item');
    if (this.size !== 1) throw new RangeError(`item() needs a tensor with one element, got shape ${formatShape(this.shape)}`);
    return this.data[0] as number;
  }

  toArray(): number[] {
    this.assertLive('toArray');
    return Array.from(this.data);
  }

  /** a tensor sharing this one's values but cut from the tape */
  detach(): Tensor {
    this.assertLive('detach');
    return new Tensor(this.data, this.shape, { borrowsData: true });
  }

  assertLive(op: string): void {
    if (this.released) throw new Error(`${op}: tensor was released (used outside the tidy() that created it)`);
  }

  /** Return the buffers to the pool and poison the tensor. */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (!this.borrowsData) bufferPool.release(this.data);
    if (this.grad !== null) bufferPool.release(this.grad);
    this.data = new Float32Array(0);
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
    if (seed === undefined) start.fill(1);
    else start.set(seed);
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
        bufferPool.release(tensor.grad);
        tensor.grad = null;
        tensor.gradValid = false;
      }
      tensor.node = null;
    }
  }
}

/** A trainable leaf: its gradient buffer persists across steps and is never pooled. */
export class Parameter extends Tensor {
  constructor(data: FloatArray, shape: readonly number[], readonly name = '') {
    super(data, shape, { requiresGrad: true, track: false });
  }

  static create(shape: readonly number[], name = '', dtype: DType = defaultDType): Parameter {
    return new Parameter(allocate(dtype, shapeSize(shape)), shape, name);
  }

  override release(): void {
    // parameters live as long as their module
  }

  zeroGrad(): void {
    this.gradValid = false;
  }

  /** the gradient, or zeros when none arrived since the last zeroGrad */
  gradOrZeros(): FloatArray {
    const grad = gradBufferOf(this);
    if (!this.gradValid) {
      grad.fill(0);
      this.gradValid = true;
    }
    return grad;
  }
}

function gradBufferOf(tensor: Tensor): FloatArray {
  if (tensor.grad === null) {
    tensor.grad = tensor instanceof Parameter ? allocate(tensor.dtype, tensor.size) : bufferPool.acquire(tensor.dtype, tensor.size);
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
  backward: (grad: FloatArray, sink: GradSink) => void,
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
