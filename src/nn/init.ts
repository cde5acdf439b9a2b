/** Initialisation schemes of the reference implementations. */
import type { Parameter, Rng } from '../engine/index.js';

export function fillNormal(p: Parameter, rng: Rng, std: number, mean = 0): void {
  for (let i = 0; i < p.size; i++) p.data[i] = mean + std * rng.normal();
}

export function fillUniform(p: Parameter, rng: Rng, bound: number): void {
  for (let i = 0; i < p.size; i++) p.data[i] = (rng.uniform() * 2 - 1) * bound;
}

export function fillConstant(p: Parameter, value: number): void {
  p.data.fill(value);
}

/**
 * How Linear and Embedding layers start:
 * - `torch`: PyTorch's defaults: Linear weight and bias U(-1/sqrt(in), 1/sqrt(in)), Embedding N(0, 1)
 *   (kzl DT's embeddings and heads, Reinformer everywhere);
 * - `gpt2`: N(0, 0.02) weights and zero biases (GPT-2 internals; CORL uses it for every layer).
 */
export type InitScheme = 'torch' | 'gpt2';
