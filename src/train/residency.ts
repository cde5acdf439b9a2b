/**
 * Where a run's weights live. On a CPU backend they are always in host memory. On a device
 * (webgpu) the modules and optimizer moments are placed there before training; evaluation,
 * checkpoints and the policy file need them on the host, so `onHost` reads them back (one read
 * per array), switches the ops to the best CPU backend while its work runs (evaluation steps the
 * environments on the host and reads an action at every step, which a GPU round trip per step
 * would only slow down), then puts everything back on the device.
 */
import type { Algorithm } from '../algos/algorithm.js';
import { backend, setBackend, type TensorBackend } from '../engine/index.js';
import { createBackend } from '../engine/backends/index.js';

let hostBackend: TensorBackend | undefined;

/** the CPU backend that evaluation and checkpoints of a device run use (native, else wasm, else js) */
function cpuBackend(): TensorBackend {
  hostBackend ??= createBackend('auto').backend;
  return hostBackend;
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
  for (const module of everyModule(algorithm)) for (const p of module.parameters()) await p.unplace();
  for (const { optimizer } of Object.values(algorithm.optimizers())) await optimizer.unplace();
  setBackend(cpuBackend());
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
