/** The algorithms `stitch train` and policy files know by name. */
import type { AnyAlgorithmDefinition } from './algorithm.js';
import { decisionTransformer } from './dt.js';
import { qtAlgorithm } from './qt.js';
import { rdtAlgorithm } from './rdt.js';
import { reinformer } from './reinformer.js';
import { rvdtAlgorithm } from './rvdt.js';

const definitions: readonly AnyAlgorithmDefinition[] = [
  decisionTransformer,
  reinformer,
  qtAlgorithm,
  rdtAlgorithm,
  rvdtAlgorithm,
];

export function algorithmNames(): string[] {
  return definitions.map((definition) => definition.name);
}

/** undefined for an unknown name (callers word the error for their context) */
export function findAlgorithm(name: string): AnyAlgorithmDefinition | undefined {
  return definitions.find((definition) => definition.name === name);
}

const positiveInteger = (value: unknown): number => (typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : 0);

/**
 * A lower bound on the parameters an algorithm config builds: the timestep embedding
 * (maxTimestep x width) and, per layer, a width x width attention projection and the width x mlpWidth
 * MLP matrix, which every registered network has (fields an algorithm lacks count 0).
 */
export function impliedParameters(config: Record<string, unknown>): number {
  const width = positiveInteger(config.width);
  return positiveInteger(config.maxTimestep) * width + positiveInteger(config.layers) * (width * width + width * positiveInteger(config.mlpWidth));
}
