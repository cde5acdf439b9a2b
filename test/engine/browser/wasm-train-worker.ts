/**
 * The wasm training of wasm-browser-training.test.ts on two threads in a page: a page's main
 * thread may not block, so training runs in this worker, which starts the GEMM worker
 * (src/engine/backends/wasm-worker-web.ts, bundled and served as /gemm-worker.js) and waits for it
 * with Atomics.wait. Posts the training record, one product large enough to be split, and how
 * many jobs the GEMM worker ran.
 */
import { HostTensorBackend } from '../../../src/engine/backends/host.js';
import { WasmBackend } from '../../../src/engine/backends/wasm.js';
import { WasmResidentBackend } from '../../../src/engine/backends/wasm-resident.js';
import { startWebGemmWorkers } from '../../../src/engine/backends/wasm-threads.js';
import { splitProduct, trainDecisionTransformer } from './train-page.js';

interface Scope {
  addEventListener(type: 'message', listener: (event: { data: { file: string } }) => void): void;
  postMessage(value: unknown): void;
}
const scope = globalThis as unknown as Scope;

scope.addEventListener('message', ({ data: { file } }) => {
  void (async () => {
    try {
      const bytes = new Uint8Array(await (await fetch(`/${file}`)).arrayBuffer());
      const kernels = await WasmBackend.compile(bytes, (count) => startWebGemmWorkers(bytes, count, '/gemm-worker.js'), file.includes('relaxed'));
      kernels.setThreads(2);
      for (let tries = 0; tries < 500 && kernels.workersStarting() > 0; tries++) await new Promise((resolve) => setTimeout(resolve, 20));
      const device = new WasmResidentBackend(kernels, new HostTensorBackend(kernels));
      const record = await trainDecisionTransformer(device);
      const product = await splitProduct(device);
      scope.postMessage({ record, product, threads: kernels.threads(), starting: kernels.workersStarting(), workerJobs: kernels.workerJobs(), describe: kernels.describe() });
    } catch (error) {
      scope.postMessage({ error: error instanceof Error ? error.message : String(error) });
    }
  })();
});
