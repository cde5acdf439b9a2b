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
