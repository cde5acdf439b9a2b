/**
 * Runs one workload's training steps in a fresh process and prints one JSON line, so that peak
 * RSS belongs to that workload alone. Usage: node dist/bench/engine-worker.js NAME STEPS
 */
import { performance } from 'node:perf_hooks';
import { DecisionTransformer, dtLoss } from '../src/algos/dt.js';
import { backend, Rng, stageUploads } from '../src/engine/index.js';
import { activateRequestedBackend } from '../src/engine/backends/select-node.js';
import { enterResidentTraining } from '../src/engine/backends/index.js';
import { WasmResidentBackend } from '../src/engine/backends/wasm-resident.js';
import { WebGpuBackend } from '../src/engine/backends/webgpu.js';
import { AdamW, linearWarmup } from '../src/nn/optim.js';
import type { TransformerInput } from '../src/nn/transformer.js';
import { gradientStep } from '../src/nn/step.js';
import { takeDeferredChecks } from '../src/nn/nonfinite.js';
import { ScalarBoards } from '../src/engine/scalar-board.js';
import { WORKLOADS } from './workloads.js';

const [name = 'dt-step', stepsArg = '30'] = process.argv.slice(2);
const workload = WORKLOADS.find((w) => w.name === name);
if (workload === undefined) throw new Error(`unknown workload ${name}`);
const steps = Number.parseInt(stepsArg, 10);
for (const line of await activateRequestedBackend(process.env.STITCH_BACKEND)) console.error(line);
// as the trainer does: the wasm backend trains with its tensors in the module's memory (unless STITCH_WASM_RESIDENT=0)
enterResidentTraining();
const device = backend();
const { config, batchSize: B } = workload;
const rng = new Rng(0);
const model = new DecisionTransformer(config, rng);
const optimizer = new AdamW(model.parameters(), { lr: 1e-4, weightDecay: 1e-4 });
const K = config.context;
const batch: TransformerInput = {
  batchSize: B,
  states: Float32Array.from({ length: B * K * config.stateDim }, () => rng.normal()),
  actions: Float32Array.from({ length: B * K * config.actionDim }, () => Math.tanh(rng.normal())),
  returnsToGo: Float32Array.from({ length: B * K }, () => rng.uniform() * 3),
  timesteps: Int32Array.from({ length: B * K }, (_, i) => (i % K) + rng.int(config.maxTimestep - K)),
  mask: new Float32Array(B * K).fill(1),
};
const schedule = linearWarmup(10_000);
const gpu = device instanceof WebGpuBackend ? device : null;
const wasmResident = device instanceof WasmResidentBackend ? device : null;
if (device.resident) {
  model.place();
  // the batch is drawn once and reused, as on the PyTorch side: one upload, kept for the run
  stageUploads([batch.states, batch.actions, batch.returnsToGo, batch.timesteps, batch.mask!]);
}
const boards = new ScalarBoards();
const step = (): void => {
  boards.next();
  gradientStep({ optimizer, clipNorm: 0.25, schedule, loss: () => dtLoss(model, batch).loss });
  // the trainer reads these one step later; the benchmark drops them (an unread board is freed two steps on)
  takeDeferredChecks();
};
for (let i = 0; i < 5; i++) step();
await device.idle();
let median: number;
let dispatchesPerStep: number | null = null;
let copiedPerStep: number | null = null;
if (gpu === null) {
  const copies = wasmResident?.wasm.copies;
  const copiedBefore = copies === undefined ? 0 : copies.bytesIn + copies.bytesOut;
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const start = performance.now();
    step();
    times.push(performance.now() - start);
  }
  if (copies !== undefined) copiedPerStep = (copies.bytesIn + copies.bytesOut - copiedBefore) / steps / 1048576;
  times.sort((a, b) => a - b);
  median = times[Math.floor(times.length / 2)] as number;
} else {
  // throughput as the trainer runs: steps queued back to back, the device drained at the end
  const dispatchesBefore = gpu.runtime.stats.dispatches;
  const start = performance.now();
  for (let i = 0; i < steps; i++) step();
  await gpu.idle();
  median = (performance.now() - start) / steps;
  dispatchesPerStep = (gpu.runtime.stats.dispatches - dispatchesBefore) / steps;
}

// the GEMM ceiling on this machine, now: the step's largest product shape
const rows = B * 3 * K;
const a = device.upload(Float32Array.from({ length: rows * config.width }, () => rng.normal()));
const w = device.upload(Float32Array.from({ length: config.mlpWidth * config.width }, () => rng.normal()));
const c = device.allocate(rows * config.mlpWidth);
device.gemm(false, true, rows, config.mlpWidth, config.width, 1, a, config.width, w, config.width, 0, c, config.mlpWidth);
await device.idle();
const gemmTimes: number[] = [];
for (let i = 0; i < 20; i++) {
  const start = performance.now();
  device.gemm(false, true, rows, config.mlpWidth, config.width, 1, a, config.width, w, config.width, 0, c, config.mlpWidth);
  await device.idle();
  gemmTimes.push(performance.now() - start);
}
gemmTimes.sort((x, y) => x - y);
const gemmGflops = (2 * rows * config.mlpWidth * config.width) / ((gemmTimes[10] as number) * 1e6);

console.log(JSON.stringify({
  name,
  backend: device.name,
  threads: device.threads(),
  ...(wasmResident === null ? {} : { resident: true, copied_mb_per_step: copiedPerStep }),
  ...(gpu === null ? {} : { adapter: gpu.describe(), dispatches_per_step: dispatchesPerStep, peak_device_mb: gpu.runtime.stats.bytesCreated / 1048576 }),
  ms_per_step: median,
  peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  gemm_ceiling_gflops: gemmGflops,
}));
