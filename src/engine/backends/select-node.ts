/**
 * Node's way to the webgpu backend, which (unlike the CPU backends) is made asynchronously: a
 * device request through Dawn. `stitch --backend webgpu` and STITCH_BACKEND=webgpu come here
 * before any op runs. A missing `webgpu` package, adapter or device is one line on stderr and a
 * fallback to the CPU backends (auto), never a crash; a software adapter (SwiftShader) is used
 * when asked for, with a line saying it is slower than the CPU backends. `auto` trains on a
 * hardware GPU when one is found (saying so), never on a software adapter.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { setBackend } from './index.js';
import { createNodeWebGpuBackend } from './webgpu-node.js';

/** how long `auto` waits for the adapter probe before training on the CPU */
const PROBE_TIMEOUT_MS = 10_000;

/**
 * The name of a hardware WebGPU adapter, or null (none, a software one, no `webgpu` package, or
 * no answer in time). Asked in a child process: on a machine without a GPU, Dawn prints the
 * Vulkan loader's complaints on stderr, which `stitch train` should not show at every start.
 */
async function hardwareAdapterName(): Promise<string | null> {
  let entry: string;
  try {
    entry = pathToFileURL(createRequire(import.meta.url).resolve('webgpu')).href;
  } catch {
    return null;
  }
  const script = `const dawn = await import(${JSON.stringify(entry)});
for (const [name, value] of Object.entries(dawn.globals)) if (!(name in globalThis)) globalThis[name] = value;
const adapter = await dawn.create([]).requestAdapter({ powerPreference: 'high-performance' });
const info = adapter?.info;
process.stdout.write(JSON.stringify(adapter ? { name: [info.vendor, info.architecture, info.description].join(' '), fallback: info.isFallbackAdapter } : null));
process.exit(0);`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString('utf8'); });
    const timer = setTimeout(() => child.kill('SIGKILL'), PROBE_TIMEOUT_MS);
    child.on('close', () => {
      clearTimeout(timer);
      try {
        const found = JSON.parse(output) as { name: string; fallback: boolean } | null;
        resolve(found !== null && !found.fallback && !SOFTWARE_ADAPTER.test(found.name) ? found.name : null);
      } catch {
        resolve(null);
      }
    });
  });
}

const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe/i;

/**
 * `auto` for training: a hardware GPU when there is one, never a software adapter, else the CPU
 * backends (native, wasm, js), quietly.
 */
async function preferHardwareGpu(): Promise<string[]> {
  if (await hardwareAdapterName() === null) return [];
  const gpu = await createNodeWebGpuBackend();
  if ('reason' in gpu || gpu.software) return [];
  setBackend(gpu);
  return [`note: training on the GPU through WebGPU (${gpu.describe()}); --backend native (or wasm, js) trains on the CPU`];
}

/**
 * Activates the webgpu backend when `requested` names it (or, for `auto`, when a hardware GPU is there) and the command trains (acting,
 * evaluation and reports run on the CPU backends); returns what it said, for the caller to print.
 */
export async function activateRequestedBackend(requested: string | undefined, trains = true): Promise<string[]> {
  if ((requested === undefined || requested === '' || requested === 'auto') && trains) return preferHardwareGpu();
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
