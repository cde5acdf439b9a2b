/// <reference types="@webgpu/types" />
/**
 * A few Decision Transformer training steps on a device backend (webgpu, or the wasm backend with
 * its tensors in the module's memory), written once for both places it runs: Node
 * (webgpu-browser-training.test.ts and wasm-browser-training.test.ts call
 * `trainDecisionTransformer`) and a page in headless Chromium (the tests bundle this file with
 * esbuild and call `trainInPage`, which finds its device through `navigator.gpu`, or
 * `trainWasmInPage`, which fetches the module's bytes from the test's server). It imports nothing
 * from Node, so the bundle holds only the engine, the network and the optimizer.
 *
 * Everything is generated here from seeds: the weights (the model's Rng, which also draws the
 * dropout streams) and the batch (a second Rng), so both places start from the same numbers.
 */
import { DecisionTransformer, dtLoss, type DecisionTransformerConfig } from '../../../src/algos/dt.js';
import { backend, Rng, setBackend, stageUploads, type TensorBackend } from '../../../src/engine/index.js';
import { HostTensorBackend } from '../../../src/engine/backends/host.js';
import { WasmBackend } from '../../../src/engine/backends/wasm.js';
import { WasmResidentBackend } from '../../../src/engine/backends/wasm-resident.js';
import { WebGpuBackend } from '../../../src/engine/backends/webgpu.js';
import { ScalarBoards } from '../../../src/engine/scalar-board.js';
import { requestDevice } from '../../../src/engine/webgpu/device.js';
import type { TransformerInput } from '../../../src/nn/transformer.js';
import { settleFiniteChecks, takeDeferredChecks } from '../../../src/nn/nonfinite.js';
import { AdamW, linearWarmup } from '../../../src/nn/optim.js';
import { gradientStep } from '../../../src/nn/step.js';

export const TRAINING_STEPS = 5;
const BATCH_SIZE = 8;
const CONFIG: DecisionTransformerConfig = {
  stateDim: 3, actionDim: 2, context: 4, width: 16, layers: 2, heads: 2, mlpWidth: 32, activation: 'gelu_tanh',
  maxTimestep: 20, embeddingDropout: 0.1, probDropout: 0.1, residDropout: 0.1, mlpDropout: 0.1,
  blockInit: 'gpt2', embeddingInit: 'torch',
};

export interface TrainingRecord {
  /** the backend's description of its adapter */
  adapter: string;
  /** per step, as read back from the device */
  losses: number[];
  gradNorms: number[];
  learningRates: number[];
  /** every parameter after the last step, by its PyTorch name */
  weights: Record<string, number[]>;
}

/**
 * A batch whose actions follow the states through one fixed map (a_t = tanh(M s_t)); the first
 * sequence is left-padded by one step, as a window at an episode's start is.
 */
function makeBatch(seed: number): TransformerInput & { mask: Float32Array } {
  const rng = new Rng(seed);
  const { stateDim: S, actionDim: A, context: K } = CONFIG;
  const map = Array.from({ length: A * S }, () => rng.normal());
  const states = new Float32Array(BATCH_SIZE * K * S);
  const actions = new Float32Array(BATCH_SIZE * K * A);
  const returnsToGo = new Float32Array(BATCH_SIZE * K);
  const timesteps = new Int32Array(BATCH_SIZE * K);
  const mask = new Float32Array(BATCH_SIZE * K).fill(1);
  for (let b = 0; b < BATCH_SIZE; b++) {
    const start = rng.int(CONFIG.maxTimestep - K);
    for (let t = 0; t < K; t++) {
      const row = b * K + t;
      if (b === 0 && t === 0) {
        // padding: zero inputs, masked out of the loss
        mask[row] = 0;
        continue;
      }
      for (let s = 0; s < S; s++) states[row * S + s] = rng.normal();
      for (let a = 0; a < A; a++) {
        let sum = 0;
        for (let s = 0; s < S; s++) sum += map[a * S + s]! * states[row * S + s]!;
        actions[row * A + a] = Math.tanh(sum);
      }
      returnsToGo[row] = (K - t) * 0.25;
      timesteps[row] = start + t;
    }
  }
  return { batchSize: BATCH_SIZE, states, actions, returnsToGo, timesteps, mask };
}

/**
 * Builds the network on `gpu` (a device backend: webgpu, or wasm with module-memory tensors) and runs TRAINING_STEPS clipped AdamW steps (clip 0.25, linear
 * warm-up over 3 steps) with dropout on: the batch goes up in one staged upload, each step's
 * scalars come back in one read. Restores the previous backend before returning.
 */
export async function trainDecisionTransformer(gpu: TensorBackend): Promise<TrainingRecord> {
  const previous = backend();
  setBackend(gpu);
  try {
    const model = new DecisionTransformer(CONFIG, new Rng(17));
    model.place();
    model.train();
    const optimizer = new AdamW(model.parameters(), { lr: 1e-2, weightDecay: 1e-4 });
    const schedule = linearWarmup(3);
    const record: TrainingRecord = { adapter: gpu.describe(), losses: [], gradNorms: [], learningRates: [], weights: {} };
    // one batch, staged again every step as a sampled batch would be: the network fits it
    const batch = makeBatch(29);
    const boards = new ScalarBoards();
    for (let step = 0; step < TRAINING_STEPS; step++) {
      boards.next();
      const unstage = stageUploads([batch.states, batch.actions, batch.returnsToGo, batch.timesteps, batch.mask]);
      const result = gradientStep({ optimizer, clipNorm: 0.25, schedule, loss: () => dtLoss(model, batch).loss });
      unstage();
      // the loss, the norm and the weights count share the step's board: one read
      await settleFiniteChecks(takeDeferredChecks());
      record.losses.push(await result.loss.read());
      record.gradNorms.push(await result.gradNorm.read());
      record.learningRates.push(result.lr);
    }
    for (const [name, p] of model.namedParameters()) record.weights[name] = Array.from(await p.read());
    return record;
  } finally {
    setBackend(previous);
  }
}

/** The page's entry: a device from `navigator.gpu`, or the reason there is none. */
export async function trainInPage(): Promise<TrainingRecord | { reason: string }> {
  const found = await requestDevice((globalThis as unknown as { navigator: { gpu: GPU } }).navigator.gpu);
  if (!found.ok) return { reason: found.reason };
  try {
    return await trainDecisionTransformer(new WebGpuBackend(found.device, found.adapter));
  } finally {
    found.device.destroy();
  }
}

/** the wasm backend as training uses it, from the module's bytes (one thread) */
export async function wasmTrainingBackend(bytes: Uint8Array, relaxed: boolean): Promise<WasmResidentBackend> {
  const kernels = await WasmBackend.compile(bytes, undefined, relaxed);
  return new WasmResidentBackend(kernels, new HostTensorBackend(kernels));
}

/** The page's entry for the wasm backend: the module fetched from the test's server (`file`: stitch.wasm or stitch-relaxed.wasm). */
export async function trainWasmInPage(file: string): Promise<TrainingRecord> {
  const response = await fetch(`/${file}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  return trainDecisionTransformer(await wasmTrainingBackend(bytes, file.includes('relaxed')));
}

/** One product above the wasm backend's 4 MFLOP split threshold, from seeded values: C read back. */
export async function splitProduct(device: TensorBackend): Promise<number[]> {
  const rng = new Rng(41);
  const m = 256, n = 136, k = 120;
  const a = device.upload(Float32Array.from({ length: m * k }, () => rng.normal()));
  const b = device.upload(Float32Array.from({ length: k * n }, () => rng.normal()));
  const c = device.allocate(m * n);
  device.gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n);
  const values = Array.from(await device.read(c, m * n));
  for (const storage of [a, b, c]) device.release(storage);
  return values;
}
