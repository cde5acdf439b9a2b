/**
 * Threads for the WebAssembly backend: workers, each with its own instance of the module, that
 * run part of a product while the calling thread runs the rest (see `WasmBackend.gemm`). Node's
 * workers (`startGemmWorkers`, script wasm-worker.ts) and a page's (`startWebGemmWorkers`, script
 * wasm-worker-web.ts; the calling thread must itself be a worker there, since a page's main
 * thread may not block) share everything below but how they start and receive buffers.
 *
 * Debian's wasi-libc has no threaded build, so the module cannot share its memory between
 * threads; instead each worker owns a SharedArrayBuffer through which the calling thread hands it
 * its operands and takes back its block of C (a few MB per product, against tens of MFLOP). The
 * calling thread waits with Atomics.wait, which Node allows on its main thread (a browser would
 * run training in a worker for the same reason). Node's worker_threads is reached through
 * `process.getBuiltinModule` (Node >= 20.16), not an import, so that browser bundles of the
 * engine carry no Node built-in; without it the backend simply stays on one thread.
 */
import type { Backend, GemmBatch, GemmCall } from '../backend.js';

/** control words, in an Int32Array over each worker's control buffer */
export const CONTROL = {
  sequence: 0,
  done: 1,
  command: 2,
  // gemm arguments
  transA: 3, transB: 4, m: 5, n: 6, k: 7, lda: 8, ldb: 9, ldc: 10, count: 11, strideA: 12, strideB: 13, strideC: 14,
  offsetA: 15, lengthA: 16, offsetB: 17, lengthB: 18, offsetC: 19, lengthC: 20,
  /** non-zero when the worker's last job threw */
  failed: 21,
  /** set to 1 by the worker once its module is instantiated */
  ready: 22,
} as const;
/** alpha and beta, as a Float64Array from this byte offset of the control buffer */
export const CONTROL_FLOATS_OFFSET = 128;
export const CONTROL_BYTES = 256;
export const COMMAND = { gemm: 1, buffer: 2, exit: 3 } as const;

/** how long the calling thread waits for a worker's job before giving up on it */
const JOB_TIMEOUT_MS = 120_000;

interface NodeWorker {
  on(event: 'error', listener: (error: unknown) => void): void;
  unref(): void;
  terminate(): Promise<number>;
}
/** where the calling thread posts a worker's data buffers: Node's MessagePort, or a page's Worker */
interface MessageTarget {
  postMessage(value: unknown): void;
  unref?(): void;
}
/** what closing a worker needs: Node's Worker or a page's */
interface Terminable {
  terminate(): unknown;
}
interface WorkerThreadsModule {
  Worker: new (url: URL, options: { workerData: unknown; transferList: unknown[]; execArgv: string[] }) => NodeWorker;
  MessageChannel: new () => { port1: MessageTarget; port2: MessageTarget };
}

/** One worker: `start` hands it a product and returns; `finish` waits and copies its C back. */
export class GemmWorker {
  private readonly control: Int32Array;
  private readonly floats: Float64Array;
  private data: Float32Array<ArrayBufferLike> = new Float32Array(0);
  private sequence = 0;
  /** products (or parts of one) this worker has run: tests check that a split reached a worker */
  jobs = 0;
  private pending: { c: Float32Array | (() => Float32Array); m: number; n: number; ldc: number; count: number; strideC: number } | undefined;

  constructor(private readonly worker: Terminable, private readonly port: MessageTarget, controlBuffer: SharedArrayBuffer) {
    this.control = new Int32Array(controlBuffer, 0, CONTROL_FLOATS_OFFSET / 4);
    this.floats = new Float64Array(controlBuffer, CONTROL_FLOATS_OFFSET, 2);
  }

  private signal(command: number): void {
    Atomics.store(this.control, CONTROL.command, command);
    this.sequence++;
    Atomics.store(this.control, CONTROL.sequence, this.sequence);
    Atomics.notify(this.control, CONTROL.sequence);
  }

  /** a worker that died would leave us waiting for ever: give up after JOB_TIMEOUT_MS */
  private wait(): void {
    const deadline = Date.now() + JOB_TIMEOUT_MS;
    while (Atomics.load(this.control, CONTROL.done) !== this.sequence) {
      if (Date.now() > deadline) throw new Error(`wasm backend: a GEMM worker did not answer within ${JOB_TIMEOUT_MS / 1000} s`);
      Atomics.wait(this.control, CONTROL.done, this.sequence - 1, 1000);
    }
  }

  /**
   * Whether the worker has instantiated its module. Never waited for: a worker's start can need
   * the calling thread's event loop (it did under `node -e`), so products use only the workers
   * that are ready and run on the calling thread until then; one that never starts is never used.
   */
  ready(): boolean {
    return Atomics.load(this.control, CONTROL.ready) === 1;
  }

  /** a data buffer of at least `floats` elements, shared with the worker (grow-only) */
  private reserve(floats: number): void {
    if (floats <= this.data.length) return;
    const size = Math.max(floats, Math.ceil(this.data.length * 1.5), 1 << 18);
    this.data = new Float32Array(new SharedArrayBuffer(size * 4));
    this.port.postMessage(this.data.buffer);
    this.signal(COMMAND.buffer);
    this.wait();
  }

  /**
   * lengths are the elements each operand spans (as `WasmBackend.gemm` computes them). `findC`,
   * for a C in the calling module's memory: finds C again at `finish`, since the calling thread's
   * part may grow that memory meanwhile (which detaches `call.c`).
   */
  start(call: GemmCall, batch: GemmBatch, lengths: { a: number; b: number; c: number }, findC?: () => Float32Array): void {
    const { a, b, c } = call;
    if (!(a instanceof Float32Array) || !(b instanceof Float32Array) || !(c instanceof Float32Array)) throw new TypeError('wasm backend: float32 only');
    const offsetB = lengths.a, offsetC = lengths.a + lengths.b;
    this.reserve(offsetC + lengths.c);
    this.data.set(a.subarray(0, lengths.a), 0);
    this.data.set(b.subarray(0, lengths.b), offsetB);
    // C is read only when beta != 0; either way only the view's own elements come back
    if (call.beta !== 0) this.data.set(c.subarray(0, lengths.c), offsetC);
    const w = this.control;
    w[CONTROL.transA] = call.transA ? 1 : 0;
    w[CONTROL.transB] = call.transB ? 1 : 0;
    w[CONTROL.m] = call.m;
    w[CONTROL.n] = call.n;
    w[CONTROL.k] = call.k;
    w[CONTROL.lda] = call.lda;
    w[CONTROL.ldb] = call.ldb;
    w[CONTROL.ldc] = call.ldc;
    w[CONTROL.count] = batch.count;
    w[CONTROL.strideA] = batch.strideA;
    w[CONTROL.strideB] = batch.strideB;
    w[CONTROL.strideC] = batch.strideC;
    w[CONTROL.offsetA] = 0;
    w[CONTROL.lengthA] = lengths.a;
    w[CONTROL.offsetB] = offsetB;
    w[CONTROL.lengthB] = lengths.b;
    w[CONTROL.offsetC] = offsetC;
    w[CONTROL.lengthC] = lengths.c;
    this.floats[0] = call.alpha;
    this.floats[1] = call.beta;
    w[CONTROL.failed] = 0;
    this.jobs += 1;
    this.pending = { c: findC ?? c, m: call.m, n: call.n, ldc: call.ldc, count: batch.count, strideC: batch.strideC };
    this.signal(COMMAND.gemm);
  }

  finish(): void {
    const job = this.pending;
    if (job === undefined) return;
    this.pending = undefined;
    this.wait();
    if (Atomics.load(this.control, CONTROL.failed) !== 0) throw new Error('wasm backend: a GEMM worker failed');
    const offsetC = this.control[CONTROL.offsetC] as number;
    const c = typeof job.c === 'function' ? job.c() : job.c;
    // row by row: a column block of C leaves other threads' columns between its rows
    for (let i = 0; i < job.count; i++) {
      for (let r = 0; r < job.m; r++) {
        const at = i * job.strideC + r * job.ldc;
        c.set(this.data.subarray(offsetC + at, offsetC + at + job.n), at);
      }
    }
  }

  close(): void {
    this.signal(COMMAND.exit);
    void this.worker.terminate();
  }
}

/**
 * `count` workers over the module's bytes, or an Error saying why there are none (no
 * worker_threads, no SharedArrayBuffer).
 */
export function startGemmWorkers(bytes: Uint8Array, count: number, options: { script?: URL } = {}): GemmWorker[] | Error {
  const script = options.script ?? new URL('./wasm-worker.js', import.meta.url);
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof getBuiltin !== 'function') return new Error('threads need Node >= 20.16 (process.getBuiltinModule)');
  if (typeof SharedArrayBuffer !== 'function') return new Error('threads need SharedArrayBuffer');
  const threads = getBuiltin('node:worker_threads') as WorkerThreadsModule;
  const workers: GemmWorker[] = [];
  for (let i = 0; i < count; i++) {
    const controlBuffer = new SharedArrayBuffer(CONTROL_BYTES);
    const { port1, port2 } = new threads.MessageChannel();
    const worker = new threads.Worker(script, {
      workerData: { bytes, controlBuffer, port: port2 },
      transferList: [port2],
      // the process's flags minus --input-type, which stops a worker from starting (node --input-type=module -e)
      execArgv: process.execArgv.filter((flag) => !flag.startsWith('--input-type')),
    });
    // neither keeps the process alive: they only ever run while the calling thread waits for them
    worker.unref();
    // a worker that fails to start is never ready, hence never used (see `ready`); one that fails
    // later is caught by the job timeout. Its error event only needs to be kept from the process.
    worker.on('error', () => undefined);
    port1.unref?.();
    workers.push(new GemmWorker(worker, port1, controlBuffer));
  }
  return workers;
}

/** A worker's view of its control buffer, marked ready (its module is instantiated) for the calling thread. */
export function workerControl(controlBuffer: SharedArrayBuffer): { control: Int32Array; floats: Float64Array } {
  const control = new Int32Array(controlBuffer, 0, CONTROL_FLOATS_OFFSET / 4);
  const floats = new Float64Array(controlBuffer, CONTROL_FLOATS_OFFSET, 2);
  Atomics.store(control, CONTROL.ready, 1);
  Atomics.notify(control, CONTROL.ready);
  return { control, floats };
}

/**
 * A worker's side of one job: the product the control words describe, on `data` (the worker's
 * shared buffer), with the worker's own instance of the module. Shared by wasm-worker.ts (Node)
 * and wasm-worker-web.ts (a page).
 */
export function runGemmJob(kernels: Pick<Backend, 'gemm'>, control: Int32Array, floats: Float64Array, data: Float32Array): void {
  const at = (offset: number, length: number): Float32Array => data.subarray(control[offset] as number, (control[offset] as number) + (control[length] as number));
  kernels.gemm(
    control[CONTROL.transA] === 1, control[CONTROL.transB] === 1,
    control[CONTROL.m] as number, control[CONTROL.n] as number, control[CONTROL.k] as number, floats[0] as number,
    at(CONTROL.offsetA, CONTROL.lengthA), control[CONTROL.lda] as number,
    at(CONTROL.offsetB, CONTROL.lengthB), control[CONTROL.ldb] as number, floats[1] as number,
    at(CONTROL.offsetC, CONTROL.lengthC), control[CONTROL.ldc] as number,
    { count: control[CONTROL.count] as number, strideA: control[CONTROL.strideA] as number, strideB: control[CONTROL.strideB] as number, strideC: control[CONTROL.strideC] as number },
  );
}

/** a page's Worker, as far as starting GEMM workers needs it */
interface WebWorker extends MessageTarget, Terminable {
  addEventListener(type: 'error', listener: () => void): void;
}
type WebWorkerConstructor = new (url: string | URL) => WebWorker;

/**
 * `count` workers in a page or a page's worker, from `script` (a bundle of wasm-worker-web.ts),
 * or an Error saying why there are none. The page must be cross-origin isolated (COOP/COEP
 * headers: SharedArrayBuffer), and the thread that waits for them must be a worker: a page's main
 * thread may not block in Atomics.wait.
 */
export function startWebGemmWorkers(bytes: Uint8Array, count: number, script: string | URL): GemmWorker[] | Error {
  const scope = globalThis as { Worker?: WebWorkerConstructor; crossOriginIsolated?: boolean };
  if (typeof scope.Worker !== 'function') return new Error('threads need Web Workers here');
  if (typeof SharedArrayBuffer !== 'function' || scope.crossOriginIsolated === false) return new Error('threads need a cross-origin isolated page (COOP/COEP headers) for SharedArrayBuffer');
  const workers: GemmWorker[] = [];
  for (let i = 0; i < count; i++) {
    const controlBuffer = new SharedArrayBuffer(CONTROL_BYTES);
    const worker = new scope.Worker(script);
    // one that fails to start is never ready, hence never used (as in Node)
    worker.addEventListener('error', () => undefined);
    worker.postMessage({ bytes, controlBuffer });
    workers.push(new GemmWorker(worker, worker, controlBuffer));
  }
  return workers;
}
