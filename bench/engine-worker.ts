/**
 * Runs one workload's training steps in a fresh process and prints one JSON line, so that peak
 * RSS belongs to that workload alone. Usage: node dist/bench/engine-worker.js NAME STEPS
 */
import { performance } from 'node:perf_hooks';
import { DecisionTransformer, dtLoss } from '../src/algos/dt.js';
import { backend, Rng } from '../src/engine/index.js';
import { AdamW, linearWarmup } from '../src/nn/optim.js';
import type { TransformerInput } from '../src/nn/transformer.js';
import { gradientStep } from '../src/nn/step.js';
import { WORKLOADS } from './workloads.js';

const [name = 'dt-step', stepsArg = '30'] = process.argv.slice(2);
const workload = WORKLOADS.find((w) => w.name === name);
if (workload === undefined) throw new Error(`unknown workload ${name}`);
const steps = Number.parseInt(stepsArg, 10);
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
const step = (): void => {
  gradientStep({ optimizer, clipNorm: 0.25, schedule, loss: () => dtLoss(model, batch).loss });
};
for (let i = 0; i < 5; i++) step();
const times: number[] = [];
for (let i = 0; i < steps; i++) {
  const start = performance.now();
  step();
  times.push(performance.now() - start);
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)] as number;

// the GEMM ceiling on this machine, now: the step's largest product shape
const rows = B * 3 * K;
const a = Float32Array.from({ length: rows * config.width }, () => rng.normal());
const w = Float32Array.from({ length: config.mlpWidth * config.width }, () => rng.normal());
const c = new Float32Array(rows * config.mlpWidth);
const k = backend();
k.gemm(false, true, rows, config.mlpWidth, config.width, 1, a, config.width, w, config.width, 0, c, config.mlpWidth);
const gemmTimes: number[] = [];
for (let i = 0; i < 20; i++) {
  const start = performance.now();
  k.gemm(false, true, rows, config.mlpWidth, config.width, 1, a, config.width, w, config.width, 0, c, config.mlpWidth);
  gemmTimes.push(performance.now() - start);
}
gemmTimes.sort((x, y) => x - y);
const gemmGflops = (2 * rows * config.mlpWidth * config.width) / ((gemmTimes[10] as number) * 1e6);

console.log(JSON.stringify({
  name,
  backend: k.name,
  threads: k.threads(),
  ms_per_step: median,
  peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  gemm_ceiling_gflops: gemmGflops,
}));
