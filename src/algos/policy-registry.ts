/**
 * The algorithms a policy file can name, as acting needs them (PolicyDefinition: config schema and
 * acting model, no training class), for src/deploy. registry.ts lists the training definitions.
 */
import type { AnyPolicyDefinition } from './algorithm.js';
import { dtPolicyDefinition } from './dt.js';
import { qtPolicyDefinition } from './qt.js';
import { rdtPolicyDefinition } from './rdt.js';
import { reinformerPolicyDefinition } from './reinformer.js';
import { rvdtPolicyDefinition } from './rvdt.js';

const definitions: readonly AnyPolicyDefinition[] = [
  dtPolicyDefinition,
  reinformerPolicyDefinition,
  qtPolicyDefinition,
  rdtPolicyDefinition,
  rvdtPolicyDefinition,
];

export function policyAlgorithmNames(): string[] {
  return definitions.map((definition) => definition.name);
}

/** undefined for an unknown name (callers word the error for their context) */
export function findPolicyDefinition(name: string): AnyPolicyDefinition | undefined {
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
