/**
 * A GEMM worker of the WebAssembly backend in a page (wasm-threads.ts, `startWebGemmWorkers`): the
 * browser twin of wasm-worker.ts. Its first message brings the module's bytes and the control
 * buffer; later ones bring data buffers. A page's worker has no synchronous way to receive a
 * message, so it waits for jobs with `Atomics.waitAsync`, which returns to its event loop between
 * jobs, and a buffer command waits for its message there. Bundle it for a page (esbuild) and pass
 * the bundle's URL to `startWebGemmWorkers`.
 */
import { WasmBackend } from './wasm.js';
import { COMMAND, CONTROL, runGemmJob, workerControl } from './wasm-threads.js';

interface WorkerScope {
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}
type WaitAsync = (array: Int32Array, index: number, value: number) => { async: boolean; value: Promise<string> | string };

const scope = globalThis as unknown as WorkerScope;
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** data buffers that arrived and were not yet taken, and a command waiting for one */
const buffers: SharedArrayBuffer[] = [];
let bufferWanted: ((buffer: SharedArrayBuffer) => void) | undefined;

function nextBuffer(): Promise<SharedArrayBuffer> {
  const ready = buffers.shift();
  if (ready !== undefined) return Promise.resolve(ready);
  return new Promise((resolve) => {
    bufferWanted = resolve;
  });
}

async function serve(bytes: Uint8Array, controlBuffer: SharedArrayBuffer): Promise<void> {
  const kernels = WasmBackend.fromBytes(bytes);
  const { control, floats } = workerControl(controlBuffer);
  let data: Float32Array<ArrayBufferLike> = new Float32Array(0);
  let seen = 0;
  for (;;) {
    const waited = waitAsync(control, CONTROL.sequence, seen);
    if (waited.async) await waited.value;
    seen = Atomics.load(control, CONTROL.sequence);
    const command = Atomics.load(control, CONTROL.command);
    if (command === COMMAND.exit) return;
    try {
      if (command === COMMAND.buffer) data = new Float32Array(await nextBuffer());
      else if (command === COMMAND.gemm) runGemmJob(kernels, control, floats, data);
    } catch {
      Atomics.store(control, CONTROL.failed, 1);
    }
    Atomics.store(control, CONTROL.done, seen);
    Atomics.notify(control, CONTROL.done);
  }
}

let started = false;
scope.addEventListener('message', ({ data }) => {
  if (!started) {
    started = true;
    const { bytes, controlBuffer } = data as { bytes: Uint8Array; controlBuffer: SharedArrayBuffer };
    void serve(bytes, controlBuffer);
    return;
  }
  const buffer = data as SharedArrayBuffer;
  if (bufferWanted !== undefined) {
    const resolve = bufferWanted;
    bufferWanted = undefined;
    resolve(buffer);
  } else {
    buffers.push(buffer);
  }
});
