/**
 * Where a training step's time goes: every backend call timed by kernel name; the remainder is
 * TypeScript (graph building, copies, small ops). Usage: node dist/bench/profile-step.js [dt-step|qt-step] [steps]
 */
import { performance } from 'node:perf_hooks';
import { DecisionTransformer, dtLoss } from '../src/algos/dt.js';
import type { TensorBackend } from '../src/engine/backend.js';
import { backend, Rng, setBackend } from '../src/engine/index.js';
import { AdamW } from '../src/nn/optim.js';
import { gradientStep } from '../src/nn/step.js';
import { WORKLOADS } from './workloads.js';

const [name = 'dt-step', stepsArg = '10'] = process.argv.slice(2);
const workload = WORKLOADS.find((w) => w.name === name);
if (workload === undefined) throw new Error(`unknown workload ${name}`);

const totals = new Map<string, { ms: number; calls: number }>();
const inner = backend();
const profiled = new Proxy(inner, {
  get(target, property, receiver) {
    const value = Reflect.get(target, property, receiver) as unknown;
    if (typeof value !== 'function' || typeof property !== 'string') return value;
    return (...args: unknown[]) => {
      const start = performance.now();
      const result = (value as (...a: unknown[]) => unknown).apply(target, args);
      const label = property === 'activation' || property === 'activationBackward' ? `${property}:${String(args[0])}`
        : property === 'gemm' && process.env.PROFILE_GEMM_SHAPES === '1' ? `gemm ${args[2]}x${args[3]}x${args[4]}${args[0] ? ' Aᵀ' : ''}${args[1] ? ' Bᵀ' : ''}${args[13] === undefined ? '' : ' batched'}`
        : property;
      const entry = totals.get(label) ?? { ms: 0, calls: 0 };
      entry.ms += performance.now() - start;
      entry.calls += 1;
      totals.set(label, entry);
      return result;
    };
  },
}) as TensorBackend;
setBackend(profiled);

const { config, batchSize: B } = workload;
const rng = new Rng(0);
const model = new DecisionTransformer(config, rng);
const optimizer = new AdamW(model.parameters(), { lr: 1e-4, weightDecay: 1e-4 });
const K = config.context;
const batch = {
  batchSize: B,
  states: Float32Array.from({ length: B * K * config.stateDim }, () => rng.normal()),
  actions: Float32Array.from({ length: B * K * config.actionDim }, () => Math.tanh(rng.normal())),
  returnsToGo: Float32Array.from({ length: B * K }, () => rng.uniform()),
  timesteps: Int32Array.from({ length: B * K }, (_, i) => i % K),
  mask: new Float32Array(B * K).fill(1),
};
const step = (): number => {
  const start = performance.now();
  gradientStep({ optimizer, clipNorm: 0.25, loss: () => dtLoss(model, batch).loss });
  return performance.now() - start;
};
for (let i = 0; i < 3; i++) step();
totals.clear();
const steps = Number.parseInt(stepsArg, 10);
let wall = 0;
for (let i = 0; i < steps; i++) wall += step();
let kernelMs = 0;
const rows = [...totals.entries()].sort((a, b) => b[1].ms - a[1].ms);
for (const [label, { ms, calls }] of rows) {
  kernelMs += ms;
  console.log(`${label.padEnd(28)} ${(ms / steps).toFixed(2).padStart(8)} ms/step  ${(calls / steps).toFixed(0).padStart(5)} calls/step`);
}
console.log(`${'kernels'.padEnd(28)} ${(kernelMs / steps).toFixed(2).padStart(8)} ms/step`);
console.log(`${'typescript (rest)'.padEnd(28)} ${((wall - kernelMs) / steps).toFixed(2).padStart(8)} ms/step`);
console.log(`${'step'.padEnd(28)} ${(wall / steps).toFixed(2).padStart(8)} ms/step on ${inner.name}, ${inner.threads()} threads`);
