/** The training-step workloads of the engine issue, shared by the benchmark and its worker. */
import type { DecisionTransformerConfig } from '../src/algos/dt.js';

export interface StepWorkload {
  name: string;
  config: DecisionTransformerConfig;
  batchSize: number;
}

const base: DecisionTransformerConfig = {
  stateDim: 17, actionDim: 6, context: 20, width: 128, layers: 3, heads: 1, mlpWidth: 512,
  activation: 'gelu_tanh', maxTimestep: 1000, embeddingDropout: 0.1, probDropout: 0.1,
  residDropout: 0.1, mlpDropout: 0.1, blockInit: 'gpt2', embeddingInit: 'torch',
};

export const WORKLOADS: StepWorkload[] = [
  { name: 'dt-step', config: base, batchSize: 64 },
  { name: 'qt-step', config: { ...base, width: 256, layers: 4, heads: 4, mlpWidth: 1024 }, batchSize: 256 },
];

/**
 * Floating-point operations of one training step: every matrix product counted forward and
 * twice backward (input and weight gradients); attention's two products per head likewise.
 */
export function flopsPerStep(w: StepWorkload): number {
  const { config: c, batchSize: B } = w;
  const tokens = 3 * c.context;
  const rows = B * tokens;
  const linear = (inF: number, outF: number, n: number): number => 3 * 2 * n * inF * outF;
  let flops = 0;
  flops += linear(1, c.width, B * c.context) + linear(c.stateDim, c.width, B * c.context) + linear(c.actionDim, c.width, B * c.context);
  const headDim = c.width / c.heads;
  for (let layer = 0; layer < c.layers; layer++) {
    flops += linear(c.width, 3 * c.width, rows) + linear(c.width, c.width, rows);
    flops += linear(c.width, c.mlpWidth, rows) + linear(c.mlpWidth, c.width, rows);
    flops += 3 * 2 * 2 * B * c.heads * tokens * tokens * headDim;
  }
  flops += linear(c.width, c.actionDim, B * c.context);
  return flops;
}
