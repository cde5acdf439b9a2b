/**
 * Writing the self-describing policy file (its format and reader: src/deploy/policy-file.ts): the
 * policy modules' weights as safetensors with the JSON header in `__metadata__.stitch`.
 */
import type { Algorithm, AnyAlgorithmDefinition, PolicyContext } from '../algos/algorithm.js';
import { POLICY_FORMAT_VERSION, POLICY_METADATA_KEY, type PolicyHeader } from '../deploy/policy-file.js';
import { moduleTensors, readSafetensors } from '../nn/checkpoint.js';
import type { Module } from '../nn/module.js';
import { encodeSafetensors, type StoredTensor } from '../nn/safetensors.js';
import { writeFileAtomic } from '../util/atomic-file.js';

export interface PolicyFileContents {
  definition: AnyAlgorithmDefinition;
  config: { batchSize: number; steps: number; context: number } & Record<string, unknown>;
  context: PolicyContext;
  algorithm: Algorithm;
  datasetId: string;
  envId: string;
  step: number;
}

/** tensors `<module name>.<parameter name>` of several modules */
export function prefixedTensors(modules: Record<string, Module>): Map<string, StoredTensor> {
  const tensors = new Map<string, StoredTensor>();
  for (const [name, module] of Object.entries(modules)) {
    for (const [key, tensor] of moduleTensors(module, `${name}.`)) tensors.set(key, tensor);
  }
  return tensors;
}

export function policyHeader(contents: PolicyFileContents): PolicyHeader {
  const { definition, config, context } = contents;
  return {
    format: 'stitch-policy',
    formatVersion: POLICY_FORMAT_VERSION,
    algo: definition.name,
    config,
    context: {
      obsDim: context.obsDim,
      actionDim: context.actionDim,
      stateMean: Array.from(context.stateMean),
      stateStd: Array.from(context.stateStd),
      actionLow: [...context.actionLow],
      actionHigh: [...context.actionHigh],
      maxEpisodeSteps: context.maxEpisodeSteps,
    },
    returnScale: definition.returnScale(config),
    contextLength: config.context,
    datasetId: contents.datasetId,
    envId: contents.envId,
    step: contents.step,
    evaluationConditions: contents.algorithm.evaluationConditions(),
  };
}

/** The policy file's bytes: tensors `<module>.<parameter>` of the policy modules, the header in the metadata. */
export function encodePolicyFile(contents: PolicyFileContents): Uint8Array {
  const header = policyHeader(contents);
  return encodeSafetensors(prefixedTensors(contents.algorithm.policyModules()), { [POLICY_METADATA_KEY]: JSON.stringify(header) });
}

/** Writes policy.safetensors atomically. */
export function writePolicyFile(path: string, contents: PolicyFileContents): void {
  writeFileAtomic(path, encodePolicyFile(contents));
}

/** the training step a policy file's header names; null when the file is unreadable or its header has none */
export function policyFileStep(path: string): number | null {
  let header: unknown;
  try {
    header = JSON.parse(readSafetensors(path).metadata[POLICY_METADATA_KEY] ?? 'null');
  } catch {
    // a damaged file vouches for no step: the caller treats it as absent
    return null;
  }
  return typeof header === 'object' && header !== null && 'step' in header && typeof header.step === 'number' ? header.step : null;
}
