/**
 * A GEMM worker of the WebAssembly backend (wasm-threads.ts): its own instance of the module,
 * driven through a shared control buffer; operands arrive in a SharedArrayBuffer sent on a port.
 * It blocks in Atomics.wait between jobs and never returns to its event loop.
 */
import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { WasmBackend } from './wasm.js';
import { COMMAND, CONTROL, runGemmJob, workerControl } from './wasm-threads.js';

const { bytes, controlBuffer, port } = workerData as { bytes: Uint8Array; controlBuffer: SharedArrayBuffer; port: MessagePort };
const kernels = WasmBackend.fromBytes(bytes);
const { control, floats } = workerControl(controlBuffer);
let data: Float32Array<ArrayBufferLike> = new Float32Array(0);
let seen = 0;

for (;;) {
  Atomics.wait(control, CONTROL.sequence, seen);
  seen = Atomics.load(control, CONTROL.sequence);
  const command = Atomics.load(control, CONTROL.command);
  if (command === COMMAND.exit) break;
  try {
    if (command === COMMAND.buffer) {
      const message = receiveMessageOnPort(port);
      if (message !== undefined) data = new Float32Array(message.message as SharedArrayBuffer);
    } else if (command === COMMAND.gemm) {
      runGemmJob(kernels, control, floats, data);
    }
  } catch {
    Atomics.store(control, CONTROL.failed, 1);
  }
  Atomics.store(control, CONTROL.done, seen);
  Atomics.notify(control, CONTROL.done);
}
