/**
 * Node's way to the webgpu backend, which (unlike the CPU backends) is made asynchronously: a
 * device request through Dawn. `stitch --backend webgpu` and STITCH_BACKEND=webgpu come here
 * before any op runs. A missing `webgpu` package, adapter or device is one line on stderr and a
 * fallback to the CPU backends (auto), never a crash; a software adapter (SwiftShader) is used
 * when asked for, with a line saying it is slower than the CPU backends.
 */
import { setBackend } from './index.js';
import { createNodeWebGpuBackend } from './webgpu-node.js';

/**
 * Activates the webgpu backend when `requested` names it and the command trains (acting,
 * evaluation and reports run on the CPU backends); returns what it said, for the caller to print.
 */
export async function activateRequestedBackend(requested: string | undefined, trains = true): Promise<string[]> {
  if (requested !== 'webgpu') return [];
  if (!trains) {
    if (typeof process !== 'undefined') process.env.STITCH_BACKEND = 'auto';
    return ['note: the webgpu backend is for training; this command acts on the CPU backends'];
  }
  const gpu = await createNodeWebGpuBackend();
  if ('reason' in gpu) {
    // the CPU backends' lazy selection reads the variable: let it choose as `auto` does
    if (typeof process !== 'undefined') process.env.STITCH_BACKEND = 'auto';
    return [`warning: the webgpu backend is not available (${gpu.reason}); using the CPU backends`];
  }
  setBackend(gpu);
  return gpu.software ? [`warning: the WebGPU adapter is a software one (${gpu.describe()}): correct, but slower than the CPU backends`] : [];
}
