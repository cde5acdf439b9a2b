/**
 * Where a run's weights live. On the js and native backends they are always in host memory. On a
 * device (webgpu), and in the wasm module's memory while the wasm backend trains, the modules and optimizer moments are placed there before training; evaluation,
 * checkpoints and the policy file need them on the host, so `onHost` reads them back (one read
 * per array), switches the ops to the best CPU backend while its work runs (evaluation steps the
 * environments on the host and reads an action at every step, which a GPU round trip per step
 * would only slow down), then puts everything back on the device.
 */
import type { Algorithm } from '../algos/algorithm.js';
import { backend, setBackend, type TensorBackend } from '../engine/index.js';
import { createBackend, enterResidentTraining } from '../engine/backends/index.js';
import { WasmResidentBackend } from '../engine/backends/wasm-resident.js';

let hostBackend: TensorBackend | undefined;

/**
 * The CPU backend that evaluation and checkpoints of a device run use: for the wasm module's
 * memory, the host wasm backend (the same kernels); for a GPU, native, else wasm, else js.
 */
function cpuBackend(device: TensorBackend = backend()): TensorBackend {
  if (device instanceof WasmResidentBackend) return device.host;
  hostBackend ??= createBackend('auto').backend;
  return hostBackend;
}

/**
 * Before a run's steps: on the wasm backend, the ops move to its variant that keeps every tensor
 * in the module's memory. Returns the function to call after the last step: it brings the
 * algorithm's state back to host arrays and puts the previous backend back, so that code after
 * training acts on host arrays as before.
 */
export function enterTrainingBackend(algorithm: Algorithm): () => Promise<void> {
  const leave = enterResidentTraining();
  return async () => {
    if (backend() instanceof WasmResidentBackend) await unplaceAlgorithm(algorithm);
    leave();
  };
}

async function unplaceAlgorithm(algorithm: Algorithm): Promise<void> {
  for (const module of everyModule(algorithm)) for (const p of module.parameters()) await p.unplace();
  for (const { optimizer } of Object.values(algorithm.optimizers())) await optimizer.unplace();
}

function everyModule(algorithm: Algorithm) {
  return [...new Set([...Object.values(algorithm.modules()), ...Object.values(algorithm.policyModules())])];
}

/** Moves the algorithm's parameters and optimizer moments to the active backend's device (nothing to do on a CPU backend). */
export function placeAlgorithm(algorithm: Algorithm): void {
  if (!backend().resident) return;
  for (const module of everyModule(algorithm)) module.place();
  for (const { optimizer } of Object.values(algorithm.optimizers())) optimizer.place();
}

/** Runs `work` with the algorithm's state in host memory and the ops on a CPU backend; on a CPU backend, just runs it. */
export async function onHost<T>(algorithm: Algorithm, work: () => T | Promise<T>): Promise<T> {
  const device = backend();
  if (!device.resident) return work();
  await unplaceAlgorithm(algorithm);
  setBackend(cpuBackend(device));
  try {
    return await work();
  } finally {
    setBackend(device);
    placeAlgorithm(algorithm);
  }
}

/** After training on a device: ops run on the CPU backend from here on (acting, reports). */
export function useCpuBackend(): void {
  if (backend().resident) setBackend(cpuBackend());
}
