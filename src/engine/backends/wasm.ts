/**
 * The WebAssembly backend: the kernels of native/kernels/ (all but BLAS) and our own SIMD128 GEMM,
 * compiled to wasm/stitch.wasm (see wasm/build.mjs and docs/engine.md). Free of Node built-ins, so
 * that a browser can use it too: it is made from the module's bytes (`WasmBackend.fromBytes`, or
 * `WasmBackend.compile` where synchronous compilation is not allowed); reading the file from disk is
 * Node's part (wasm-node.ts).
 *
 * Arrays that are views of the module's own memory (the training variant keeps every tensor there:
 * wasm-resident.ts) go to the kernels as they are. Any other host array is copied into the
 * module's linear memory, the kernel runs, and its outputs are copied back; the copies go through
 * one grow-only arena reused by every op, so after the first steps no op allocates. Arrays an op
 * only writes, and fully, are not copied in. float32 only, like the native backend.
 */
import type { Activation, AdamStep, AttentionShape, Backend, FloatArray, GemmBatch, GemmCall } from '../backend.js';
import type { GemmWorker } from './wasm-threads.js';

/**
 * The part of the WebAssembly JS API used here. The project compiles against ES2022 and Node's
 * types (which do not declare WebAssembly in @types/node 20), so it is declared locally; Node and
 * browsers both provide it as a global.
 */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
type WasmBytes = ArrayBuffer | ArrayBufferView;
interface WasmModule {
  readonly kind?: 'module';
}
declare const WebAssembly: {
  Module: new (bytes: WasmBytes) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, never>) => { readonly exports: object };
  compile(bytes: WasmBytes): Promise<WasmModule>;
};

/** The module's exports, one to one with wasm/exports.c (pointers are byte offsets, booleans 0/1). */
export interface WasmKernelExports {
  memory: WasmMemory;
  stitch_alloc(bytes: number): number;
  stitch_release(pointer: number): void;
  wasm_threads(): number;
  wasm_set_threads(n: number): void;
  wasm_gemm(
    transA: number, transB: number, m: number, n: number, k: number, alpha: number, a: number, lda: number,
    b: number, ldb: number, beta: number, c: number, ldc: number, count: number, strideA: number, strideB: number, strideC: number,
  ): void;
  wasm_add_bias_rows(x: number, bias: number, rows: number, cols: number): void;
  wasm_sum_rows(x: number, rows: number, cols: number, out: number, accumulate: number): number;
  wasm_add(a: number, b: number, out: number, n: number): void;
  wasm_axpy(alpha: number, x: number, y: number, n: number): void;
  wasm_scale(x: number, alpha: number, n: number): void;
  wasm_sum_squares(x: number, n: number): number;
  wasm_activation(kind: number, x: number, out: number, n: number): void;
  wasm_activation_backward(kind: number, x: number, gradOut: number, gradX: number, n: number, accumulate: number): void;
  wasm_bias_activation(kind: number, x: number, bias: number, out: number, rows: number, cols: number): void;
  wasm_activation_backward_bias(
    kind: number, x: number, gradOut: number, gradX: number, biasGrad: number, rows: number, cols: number, accumulate: number,
  ): number;
  wasm_dropout(x: number, out: number, n: number, p: number, seed: number): void;
  wasm_dropout_backward(gradOut: number, gradX: number, n: number, p: number, seed: number, accumulate: number): void;
  wasm_layer_norm(x: number, gamma: number, beta: number, out: number, mean: number, rstd: number, rows: number, cols: number, eps: number): void;
  wasm_layer_norm_backward(
    x: number, gamma: number, mean: number, rstd: number, gradOut: number, gradX: number, gradGamma: number, gradBeta: number,
    rows: number, cols: number, accumulate: number,
  ): number;
  wasm_attention(
    qkv: number, keyMask: number, probs: number, out: number, batch: number, tokens: number, heads: number, headDim: number,
    causal: number, dropout: number, seed: number,
  ): number;
  wasm_attention_backward(
    qkv: number, probs: number, gradOut: number, gradQkv: number, batch: number, tokens: number, heads: number, headDim: number,
    causal: number, dropout: number, seed: number, accumulate: number,
  ): number;
  wasm_gather_rows(table: number, index: number, count: number, out: number, cols: number): void;
  wasm_scatter_add_rows(gradOut: number, index: number, count: number, gradTable: number, cols: number): void;
  wasm_adam_update(
    param: number, grad: number, m: number, v: number, n: number, lr: number, beta1: number, beta2: number, eps: number,
    weightDecay: number, decoupled: number, biasCorrection1: number, biasCorrection2: number,
  ): void;
  wasm_lamb_update(
    param: number, grad: number, m: number, v: number, update: number, n: number, lr: number, beta1: number, beta2: number,
    eps: number, weightDecay: number, biasCorrection1: number, biasCorrection2: number,
  ): void;
}

/** the codes of wasm/exports.c and native/kernels/kernels.h */
const ACTIVATION_CODES: Record<Activation, number> = { relu: 0, gelu_tanh: 1, gelu_erf: 2, tanh: 3, mish: 4 };

/**
 * How an op uses an array: `in` is copied in, `out` copied back (the kernel writes every element),
 * `inout` both (read, accumulated into, or written only in part: a strided view's gaps must survive).
 */
type Direction = 'in' | 'out' | 'inout';

interface Operand {
  array: Float32Array | Int32Array | null;
  /** elements the op touches, from index 0 */
  length: number;
  direction: Direction;
}

function float32(x: FloatArray, what: string): Float32Array {
  if (!(x instanceof Float32Array)) throw new TypeError(`wasm backend: ${what} must be a Float32Array (got ${x.constructor.name})`);
  return x;
}

/** elements a row-major view of rows x cols with leading dimension ld spans */
function span(rows: number, cols: number, ld: number): number {
  return rows > 0 && cols > 0 ? (rows - 1) * ld + cols : 0;
}

function flag(value: boolean): number {
  return value ? 1 : 0;
}

const ALIGN = 16;

/** Below this many flops a product stays on the calling thread (a worker costs a wake-up and copies). */
const SPLIT_MIN_FLOPS = 4 * 1024 * 1024;
/** a pair runs side by side when its smaller product has at least this many flops */
const PAIR_MIN_FLOPS = 1024 * 1024;

/** starts `count` GEMM workers (wasm-threads.ts), or says why it cannot */
export type StartGemmWorkers = (count: number) => GemmWorker[] | Error;

interface Extents {
  a: number;
  b: number;
  c: number;
}

/** the elements each operand of a (batched) product spans; A and B are not read when k = 0 or alpha = 0 */
function gemmExtents(
  transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  lda: number, ldb: number, ldc: number, batch: GemmBatch,
): Extents {
  const reads = k > 0 && alpha !== 0;
  const before = batch.count - 1;
  return {
    a: reads ? span(transA ? k : m, transA ? m : k, lda) + before * batch.strideA : 0,
    b: reads ? span(transB ? n : k, transB ? k : n, ldb) + before * batch.strideB : 0,
    c: span(m, n, ldc) + before * batch.strideC,
  };
}

export class WasmBackend implements Backend {
  readonly name = 'wasm' as const;
  /** bytes copied into and out of the module by ops (arrays that were not views of its memory) */
  readonly copies = { bytesIn: 0, bytesOut: 0 };
  private arenaPointer = 0;
  private arenaBytes = 0;
  private workers: GemmWorker[] = [];
  private threadsUnavailable: string | undefined;

  /** `relaxed`: the module is the relaxed-SIMD build (wasm/stitch-relaxed.wasm), for `describe` */
  constructor(private readonly kernels: WasmKernelExports, private readonly startWorkers?: StartGemmWorkers, readonly relaxed = false) {}

  /**
   * Compiles synchronously: fine in Node and in workers; a browser's main thread needs `compile`.
   * Without `startWorkers` the backend has one thread.
   */
  static fromBytes(bytes: WasmBytes, startWorkers?: StartGemmWorkers, relaxed = false): WasmBackend {
    return new WasmBackend(instantiate(new WebAssembly.Module(bytes)), startWorkers, relaxed);
  }

  static async compile(bytes: WasmBytes, startWorkers?: StartGemmWorkers, relaxed = false): Promise<WasmBackend> {
    return new WasmBackend(instantiate(await WebAssembly.compile(bytes)), startWorkers, relaxed);
  }

  /** the module's memory now (replaced whenever it grows: make views from it, never keep them) */
  get memory(): ArrayBuffer {
    return this.kernels.memory.buffer;
  }

  /** `bytes` of the module's memory, 16-byte aligned; 0 when it cannot grow that far */
  allocateBytes(bytes: number): number {
    return this.kernels.stitch_alloc(bytes);
  }

  freeBytes(pointer: number): void {
    this.kernels.stitch_release(pointer);
  }

  /** true for a view of the module's memory, which a kernel can use where it is */
  private inMemory(array: Float32Array | Int32Array): boolean {
    return array.buffer === this.kernels.memory.buffer;
  }

  /** a view of the module's memory as a function that finds it again after the memory grows */
  private relocatable(c: Float32Array): (() => Float32Array) | undefined {
    if (!this.inMemory(c)) return undefined;
    const { byteOffset, length } = c;
    return () => new Float32Array(this.kernels.memory.buffer, byteOffset, length);
  }

  describe(): string {
    const why = this.threadsUnavailable === undefined ? '' : `, one thread: ${this.threadsUnavailable}`;
    return `wasm32 SIMD128 kernels${this.relaxed ? ' (relaxed SIMD: fused multiply-add)' : ''}${why}`;
  }

  /** workers started but not yet running (products stay on the calling thread meanwhile) */
  workersStarting(): number {
    return this.workers.filter((worker) => !worker.ready()).length;
  }

  /** products (or parts of one) the GEMM workers have run so far */
  workerJobs(): number {
    return this.workers.reduce((sum, worker) => sum + worker.jobs, 0);
  }

  /** the calling thread plus its GEMM workers */
  threads(): number {
    return 1 + this.workers.length;
  }

  /**
   * n - 1 workers split the matrix products (wasm-threads.ts); the other kernels run on the
   * calling thread. Results do not depend on n: a split never changes an element's sum order.
   */
  setThreads(n: number): void {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`wasm backend: threads must be a positive integer (got ${n})`);
    while (this.workers.length > n - 1) this.workers.pop()?.close();
    if (this.workers.length === n - 1) return;
    if (this.startWorkers === undefined) {
      this.threadsUnavailable = 'no worker support here';
      return;
    }
    const more = this.startWorkers(n - 1 - this.workers.length);
    if (more instanceof Error) {
      this.threadsUnavailable = more.message;
      return;
    }
    this.workers.push(...more);
  }

  /**
   * Runs `kernel` on the operands' addresses: views of the module's memory as they are, other
   * arrays copied into the arena first (and their outputs copied back).
   */
  private run<T>(operands: Operand[], kernel: (...pointers: number[]) => T): T {
    const pointers: number[] = [];
    const copied: boolean[] = [];
    let total = 0;
    for (const { array, length } of operands) {
      if (array !== null && array.length < length) throw new RangeError(`wasm backend: an array of ${array.length} elements is shorter than the ${length} the op needs`);
      const resident = array !== null && this.inMemory(array);
      // taken before the arena may grow the memory, which detaches every view of it
      pointers.push(array === null ? 0 : resident ? array.byteOffset : -1);
      copied.push(array !== null && !resident);
      if (array !== null && !resident) total += Math.ceil((length * 4) / ALIGN) * ALIGN;
    }
    if (total > 0) this.reserve(total);
    let offset = this.arenaPointer;
    const buffer = this.kernels.memory.buffer;
    operands.forEach(({ array, length, direction }, i) => {
      if (!copied[i] || array === null) return;
      pointers[i] = offset;
      if (direction !== 'out' && length > 0) {
        const view = array instanceof Int32Array ? new Int32Array(buffer, offset, length) : new Float32Array(buffer, offset, length);
        view.set(array.length === length ? array : array.subarray(0, length));
        this.copies.bytesIn += length * 4;
      }
      offset += Math.ceil((length * 4) / ALIGN) * ALIGN;
    });
    const result = kernel(...pointers);
    // the kernel may have grown the memory (scratch), which replaces the buffer
    const after = this.kernels.memory.buffer;
    operands.forEach(({ array, length, direction }, i) => {
      if (!copied[i] || array === null || direction === 'in' || length === 0) return;
      const pointer = pointers[i] as number;
      if (array instanceof Int32Array) array.set(new Int32Array(after, pointer, length));
      else array.set(new Float32Array(after, pointer, length));
      this.copies.bytesOut += length * 4;
    });
    return result;
  }

  /** grow-only: one arena for every op, replaced by a larger one when an op needs more */
  private reserve(bytes: number): void {
    if (bytes <= this.arenaBytes) return;
    if (this.arenaPointer !== 0) this.kernels.stitch_release(this.arenaPointer);
    const size = Math.max(bytes, Math.ceil(this.arenaBytes * 1.5), 1 << 20);
    const pointer = this.kernels.stitch_alloc(size);
    if (pointer === 0) {
      this.arenaPointer = 0;
      this.arenaBytes = 0;
      throw new RangeError(`wasm backend: out of memory reserving ${size} bytes`);
    }
    this.arenaPointer = pointer;
    this.arenaBytes = size;
  }

  private check(status: number, kernel: string): void {
    if (status !== 0) throw new RangeError(`wasm backend: ${kernel} ran out of memory`);
  }

  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: FloatArray, lda: number, b: FloatArray, ldb: number, beta: number,
    c: FloatArray, ldc: number, batch?: GemmBatch,
  ): void {
    const full: GemmBatch = { count: batch?.count ?? 1, strideA: batch?.strideA ?? 0, strideB: batch?.strideB ?? 0, strideC: batch?.strideC ?? 0 };
    const flops = k > 0 && alpha !== 0 ? 2 * m * n * k * full.count : 0;
    if (this.workers.length > 0 && flops >= SPLIT_MIN_FLOPS && m > 0 && n > 0) {
      const ready = this.workers.filter((worker) => worker.ready());
      if (ready.length > 0) {
        this.gemmSplit({ transA, transB, m, n, k, alpha, a: float32(a, 'A'), lda, b: float32(b, 'B'), ldb, beta, c: float32(c, 'C'), ldc }, full, ready);
        return;
      }
    }
    this.gemmSingle(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, batch);
  }

  /**
   * One product (or batch) cut into a part per thread: the batch's products when there are
   * enough, else the rows of C (or its columns, when C has more of them), in blocks whose edges
   * are multiples of 8 (the micro-kernel's width). Workers take parts 1.., this thread part 0.
   */
  private gemmSplit(g: GemmCall, batch: GemmBatch, workers: GemmWorker[]): void {
    const parts = Math.min(workers.length + 1, batch.count > 1 ? batch.count : Number.POSITIVE_INFINITY);
    const calls: Array<{ call: GemmCall; batch: GemmBatch }> = [];
    if (batch.count > 1) {
      for (let part = 0; part < parts; part++) {
        const begin = Math.floor((batch.count * part) / parts), end = Math.floor((batch.count * (part + 1)) / parts);
        if (begin >= end) continue;
        calls.push({
          call: { ...g, a: g.a.subarray(begin * batch.strideA), b: g.b.subarray(begin * batch.strideB), c: g.c.subarray(begin * batch.strideC) },
          batch: { ...batch, count: end - begin },
        });
      }
    } else {
      const byRows = g.m >= g.n;
      const extent = byRows ? g.m : g.n;
      const chunk = Math.ceil(extent / parts / 8) * 8;
      for (let begin = 0; begin < extent; begin += chunk) {
        const end = Math.min(extent, begin + chunk);
        const call: GemmCall = byRows
          ? { ...g, m: end - begin, a: g.a.subarray(g.transA ? begin : begin * g.lda), c: g.c.subarray(begin * g.ldc) }
          : { ...g, n: end - begin, b: g.b.subarray(g.transB ? begin * g.ldb : begin), c: g.c.subarray(begin) };
        calls.push({ call, batch });
      }
    }
    const started: GemmWorker[] = [];
    try {
      calls.slice(1).forEach(({ call, batch: part }, i) => {
        const worker = workers[i] as GemmWorker;
        worker.start(call, part, gemmExtents(call.transA, call.transB, call.m, call.n, call.k, call.alpha, call.lda, call.ldb, call.ldc, part), this.relocatable(float32(call.c, 'C')));
        started.push(worker);
      });
      const first = calls[0];
      if (first !== undefined) {
        const { call, batch: part } = first;
        this.gemmSingle(call.transA, call.transB, call.m, call.n, call.k, call.alpha, call.a, call.lda, call.b, call.ldb, call.beta, call.c, call.ldc, part);
      }
    } finally {
      // the workers' blocks land after this thread's: a column block's copy-back skips the others' columns
      for (const worker of started) worker.finish();
    }
  }

  private gemmSingle(
    transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: FloatArray, lda: number, b: FloatArray, ldb: number, beta: number,
    c: FloatArray, ldc: number, batch?: GemmBatch,
  ): void {
    const count = batch?.count ?? 1;
    const strideA = batch?.strideA ?? 0, strideB = batch?.strideB ?? 0, strideC = batch?.strideC ?? 0;
    if (count === 0 || m === 0 || n === 0) return;
    const reads = k > 0 && alpha !== 0;
    const aLength = reads ? span(transA ? k : m, transA ? m : k, lda) + (count - 1) * strideA : 0;
    const bLength = reads ? span(transB ? n : k, transB ? k : n, ldb) + (count - 1) * strideB : 0;
    const cLength = span(m, n, ldc) + (count - 1) * strideC;
    // C is written whole only when beta = 0 and the views leave no gaps between rows or products
    const whole = beta === 0 && ldc === n && (count === 1 || strideC === m * n);
    this.run(
      [
        { array: float32(a, 'A'), length: aLength, direction: 'in' },
        { array: float32(b, 'B'), length: bLength, direction: 'in' },
        { array: float32(c, 'C'), length: cLength, direction: whole ? 'out' : 'inout' },
      ],
      (pa, pb, pc) => this.kernels.wasm_gemm(
        flag(transA), flag(transB), m, n, k, alpha, pa as number, lda, pb as number, ldb, beta, pc as number, ldc,
        count, strideA, strideB, strideC,
      ),
    );
  }

  /** side by side when there is a worker and both products are large enough; otherwise one after the other */
  gemmPair(first: GemmCall, second: GemmCall): void {
    const flops = (g: GemmCall): number => (g.k > 0 && g.alpha !== 0 ? 2 * g.m * g.n * g.k : 0);
    const worker = this.workers.find((candidate) => candidate.ready());
    if (worker === undefined || Math.min(flops(first), flops(second)) < PAIR_MIN_FLOPS || second.m === 0 || second.n === 0) {
      for (const g of [first, second]) this.gemm(g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, g.c, g.ldc);
      return;
    }
    const one: GemmBatch = { count: 1, strideA: 0, strideB: 0, strideC: 0 };
    const s = { ...second, a: float32(second.a, 'A'), b: float32(second.b, 'B'), c: float32(second.c, 'C') };
    worker.start(s, one, gemmExtents(s.transA, s.transB, s.m, s.n, s.k, s.alpha, s.lda, s.ldb, s.ldc, one), this.relocatable(s.c));
    try {
      this.gemmSingle(first.transA, first.transB, first.m, first.n, first.k, first.alpha, first.a, first.lda, first.b, first.ldb, first.beta, first.c, first.ldc);
    } finally {
      worker.finish();
    }
  }

  addBiasRows(x: FloatArray, bias: FloatArray, rows: number, cols: number): void {
    this.run(
      [{ array: float32(x, 'x'), length: rows * cols, direction: 'inout' }, { array: float32(bias, 'bias'), length: cols, direction: 'in' }],
      (px, pb) => this.kernels.wasm_add_bias_rows(px as number, pb as number, rows, cols),
    );
  }

  sumRows(x: FloatArray, rows: number, cols: number, out: FloatArray, accumulate: boolean): void {
    const status = this.run(
      [{ array: float32(x, 'x'), length: rows * cols, direction: 'in' }, { array: float32(out, 'out'), length: cols, direction: accumulate ? 'inout' : 'out' }],
      (px, po) => this.kernels.wasm_sum_rows(px as number, rows, cols, po as number, flag(accumulate)),
    );
    this.check(status, 'sumRows');
  }

  add(a: FloatArray, b: FloatArray, out: FloatArray, n: number): void {
    this.run(
      [{ array: float32(a, 'a'), length: n, direction: 'in' }, { array: float32(b, 'b'), length: n, direction: 'in' }, { array: float32(out, 'out'), length: n, direction: 'out' }],
      (pa, pb, po) => this.kernels.wasm_add(pa as number, pb as number, po as number, n),
    );
  }

  axpy(alpha: number, x: FloatArray, y: FloatArray, n: number): void {
    this.run(
      [{ array: float32(x, 'x'), length: n, direction: 'in' }, { array: float32(y, 'y'), length: n, direction: 'inout' }],
      (px, py) => this.kernels.wasm_axpy(alpha, px as number, py as number, n),
    );
  }

  scale(x: FloatArray, alpha: number, n: number): void {
    this.run([{ array: float32(x, 'x'), length: n, direction: 'inout' }], (px) => this.kernels.wasm_scale(px as number, alpha, n));
  }

  sumSquares(x: FloatArray, n: number): number {
    return this.run([{ array: float32(x, 'x'), length: n, direction: 'in' }], (px) => this.kernels.wasm_sum_squares(px as number, n));
  }

  activation(kind: Activation, x: FloatArray, out: FloatArray, n: number): void {
    this.run(
      [{ array: float32(x, 'x'), length: n, direction: 'in' }, { array: float32(out, 'out'), length: n, direction: 'out' }],
      (px, po) => this.kernels.wasm_activation(ACTIVATION_CODES[kind], px as number, po as number, n),
    );
  }

  activationBackward(kind: Activation, x: FloatArray, gradOut: FloatArray, gradX: FloatArray, n: number, accumulate: boolean): void {
    this.run(
      [
        { array: float32(x, 'x'), length: n, direction: 'in' },
        { array: float32(gradOut, 'gradOut'), length: n, direction: 'in' },
        { array: float32(gradX, 'gradX'), length: n, direction: accumulate ? 'inout' : 'out' },
      ],
      (px, pg, pgx) => this.kernels.wasm_activation_backward(ACTIVATION_CODES[kind], px as number, pg as number, pgx as number, n, flag(accumulate)),
    );
  }

  biasActivation(kind: Activation, x: FloatArray, bias: FloatArray, out: FloatArray, rows: number, cols: number): void {
    this.run(
      [
        { array: float32(x, 'x'), length: rows * cols, direction: 'inout' },
        { array: float32(bias, 'bias'), length: cols, direction: 'in' },
        { array: float32(out, 'out'), length: rows * cols, direction: 'out' },
      ],
      (px, pb, po) => this.kernels.wasm_bias_activation(ACTIVATION_CODES[kind], px as number, pb as number, po as number, rows, cols),
    );
  }

  activationBackwardBias(
    kind: Activation, x: FloatArray, gradOut: FloatArray, gradX: FloatArray, biasGrad: FloatArray,
    rows: number, cols: number, accumulate: boolean,
  ): void {
    const status = this.run(
      [
        { array: float32(x, 'x'), length: rows * cols, direction: 'in' },
        { array: float32(gradOut, 'gradOut'), length: rows * cols, direction: 'in' },
        { array: float32(gradX, 'gradX'), length: rows * cols, direction: 'out' },
        { array: float32(biasGrad, 'biasGrad'), length: cols, direction: accumulate ? 'inout' : 'out' },
      ],
      (px, pg, pgx, pb) => this.kernels.wasm_activation_backward_bias(
        ACTIVATION_CODES[kind], px as number, pg as number, pgx as number, pb as number, rows, cols, flag(accumulate),
      ),
    );
    this.check(status, 'activationBackwardBias');
  }

  dropout(x: FloatArray, out: FloatArray, n: number, p: number, seed: number): void {
    this.run(
      [{ array: float32(x, 'x'), length: n, direction: 'in' }, { array: float32(out, 'out'), length: n, direction: 'out' }],
      (px, po) => this.kernels.wasm_dropout(px as number, po as number, n, p, seed >>> 0),
    );
  }

  dropoutBackward(gradOut: FloatArray, gradX: FloatArray, n: number, p: number, seed: number, accumulate: boolean): void {
    this.run(
      [{ array: float32(gradOut, 'gradOut'), length: n, direction: 'in' }, { array: float32(gradX, 'gradX'), length: n, direction: accumulate ? 'inout' : 'out' }],
      (pg, pgx) => this.kernels.wasm_dropout_backward(pg as number, pgx as number, n, p, seed >>> 0, flag(accumulate)),
    );
  }

  layerNorm(
    x: FloatArray, gamma: FloatArray, beta: FloatArray, out: FloatArray,
    mean: FloatArray, rstd: FloatArray, rows: number, cols: number, eps: number,
  ): void {
    if (cols === 0) return;
    this.run(
      [
        { array: float32(x, 'x'), length: rows * cols, direction: 'in' },
        { array: float32(gamma, 'gamma'), length: cols, direction: 'in' },
        { array: float32(beta, 'beta'), length: cols, direction: 'in' },
        { array: float32(out, 'out'), length: rows * cols, direction: 'out' },
        { array: float32(mean, 'mean'), length: rows, direction: 'out' },
        { array: float32(rstd, 'rstd'), length: rows, direction: 'out' },
      ],
      (px, pg, pb, po, pm, pr) => this.kernels.wasm_layer_norm(px as number, pg as number, pb as number, po as number, pm as number, pr as number, rows, cols, eps),
    );
  }

  layerNormBackward(
    x: FloatArray, gamma: FloatArray, mean: FloatArray, rstd: FloatArray, gradOut: FloatArray,
    gradX: FloatArray, gradGamma: FloatArray, gradBeta: FloatArray, rows: number, cols: number, accumulate: boolean,
  ): void {
    if (cols === 0 || rows === 0) return;
    const status = this.run(
      [
        { array: float32(x, 'x'), length: rows * cols, direction: 'in' },
        { array: float32(gamma, 'gamma'), length: cols, direction: 'in' },
        { array: float32(mean, 'mean'), length: rows, direction: 'in' },
        { array: float32(rstd, 'rstd'), length: rows, direction: 'in' },
        { array: float32(gradOut, 'gradOut'), length: rows * cols, direction: 'in' },
        { array: float32(gradX, 'gradX'), length: rows * cols, direction: accumulate ? 'inout' : 'out' },
        { array: float32(gradGamma, 'gradGamma'), length: cols, direction: 'inout' },
        { array: float32(gradBeta, 'gradBeta'), length: cols, direction: 'inout' },
      ],
      (px, pg, pm, pr, pgo, pgx, pgg, pgb) => this.kernels.wasm_layer_norm_backward(
        px as number, pg as number, pm as number, pr as number, pgo as number, pgx as number, pgg as number, pgb as number, rows, cols, flag(accumulate),
      ),
    );
    this.check(status, 'layerNormBackward');
  }

  attention(qkv: FloatArray, keyMask: FloatArray | null, probs: FloatArray, out: FloatArray, s: AttentionShape): void {
    const rows = s.batch * s.tokens, width = s.heads * s.headDim;
    if (rows === 0 || s.heads === 0) return;
    const status = this.run(
      [
        { array: float32(qkv, 'qkv'), length: rows * 3 * width, direction: 'in' },
        { array: keyMask === null ? null : float32(keyMask, 'keyMask'), length: rows, direction: 'in' },
        { array: float32(probs, 'probs'), length: s.batch * s.heads * s.tokens * s.tokens, direction: 'out' },
        { array: float32(out, 'out'), length: rows * width, direction: 'out' },
      ],
      (pq, pm, pp, po) => this.kernels.wasm_attention(
        pq as number, pm as number, pp as number, po as number, s.batch, s.tokens, s.heads, s.headDim, flag(s.causal), s.dropout, s.seed >>> 0,
      ),
    );
    this.check(status, 'attention');
  }

  attentionBackward(qkv: FloatArray, probs: FloatArray, gradOut: FloatArray, gradQkv: FloatArray, s: AttentionShape, accumulate: boolean): void {
    const rows = s.batch * s.tokens, width = s.heads * s.headDim;
    if (rows === 0 || s.heads === 0) return;
    const status = this.run(
      [
        { array: float32(qkv, 'qkv'), length: rows * 3 * width, direction: 'in' },
        { array: float32(probs, 'probs'), length: s.batch * s.heads * s.tokens * s.tokens, direction: 'in' },
        { array: float32(gradOut, 'gradOut'), length: rows * width, direction: 'in' },
        { array: float32(gradQkv, 'gradQkv'), length: rows * 3 * width, direction: accumulate ? 'inout' : 'out' },
      ],
      (pq, pp, pg, pgq) => this.kernels.wasm_attention_backward(
        pq as number, pp as number, pg as number, pgq as number, s.batch, s.tokens, s.heads, s.headDim, flag(s.causal), s.dropout, s.seed >>> 0, flag(accumulate),
      ),
    );
    this.check(status, 'attentionBackward');
  }

  gatherRows(table: FloatArray, index: Int32Array, out: FloatArray, cols: number): void {
    const tableRows = cols > 0 ? Math.floor(table.length / cols) : 0;
    const bad = index.findIndex((row) => row < 0 || row >= tableRows);
    if (cols > 0 && bad >= 0) throw new RangeError(`wasm backend: index ${index[bad]} at ${bad} is outside the table's ${tableRows} rows`);
    this.run(
      [
        { array: float32(table, 'table'), length: tableRows * cols, direction: 'in' },
        { array: index, length: index.length, direction: 'in' },
        { array: float32(out, 'out'), length: index.length * cols, direction: 'out' },
      ],
      (pt, pi, po) => this.kernels.wasm_gather_rows(pt as number, pi as number, index.length, po as number, cols),
    );
  }

  scatterAddRows(gradOut: FloatArray, index: Int32Array, gradTable: FloatArray, cols: number): void {
    const tableRows = cols > 0 ? Math.floor(gradTable.length / cols) : 0;
    const bad = index.findIndex((row) => row < 0 || row >= tableRows);
    if (cols > 0 && bad >= 0) throw new RangeError(`wasm backend: index ${index[bad]} at ${bad} is outside the table's ${tableRows} rows`);
    this.run(
      [
        { array: float32(gradOut, 'gradOut'), length: index.length * cols, direction: 'in' },
        { array: index, length: index.length, direction: 'in' },
        { array: float32(gradTable, 'gradTable'), length: tableRows * cols, direction: 'inout' },
      ],
      (pg, pi, pt) => this.kernels.wasm_scatter_add_rows(pg as number, pi as number, index.length, pt as number, cols),
    );
  }

  adamUpdate(param: FloatArray, grad: FloatArray, m: FloatArray, v: FloatArray, n: number, s: AdamStep): void {
    this.run(
      [
        { array: float32(param, 'param'), length: n, direction: 'inout' },
        { array: float32(grad, 'grad'), length: n, direction: 'in' },
        { array: float32(m, 'm'), length: n, direction: 'inout' },
        { array: float32(v, 'v'), length: n, direction: 'inout' },
      ],
      (pp, pg, pm, pv) => this.kernels.wasm_adam_update(
        pp as number, pg as number, pm as number, pv as number, n,
        s.lr, s.beta1, s.beta2, s.eps, s.weightDecay, flag(s.decoupled), s.biasCorrection1, s.biasCorrection2,
      ),
    );
  }

  lambUpdate(param: FloatArray, grad: FloatArray, m: FloatArray, v: FloatArray, update: FloatArray, n: number, s: AdamStep): void {
    this.run(
      [
        { array: float32(param, 'param'), length: n, direction: 'inout' },
        { array: float32(grad, 'grad'), length: n, direction: 'in' },
        { array: float32(m, 'm'), length: n, direction: 'inout' },
        { array: float32(v, 'v'), length: n, direction: 'inout' },
        { array: float32(update, 'update'), length: n, direction: 'out' },
      ],
      (pp, pg, pm, pv, pu) => this.kernels.wasm_lamb_update(
        pp as number, pg as number, pm as number, pv as number, pu as number, n,
        s.lr, s.beta1, s.beta2, s.eps, s.weightDecay, s.biasCorrection1, s.biasCorrection2,
      ),
    );
  }
}

function instantiate(module: WasmModule): WasmKernelExports {
  // the module imports nothing (wasm/build.mjs links no WASI calls)
  const instance = new WebAssembly.Instance(module, {});
  return instance.exports as unknown as WasmKernelExports;
}
