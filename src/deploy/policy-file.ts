/**
 * The self-describing policy file, read side: the policy modules' weights as safetensors, with a
 * JSON header in `__metadata__.stitch` holding everything needed to act (algorithm and its full
 * config, state mean/std, action bounds, episode limit, return scale, context length, dataset and
 * env ids). Restoring builds only what acting needs (the algorithm's PolicyModel: no optimizer, no
 * training-only network) and loads the weights. Works on bytes, without Node's file system; the
 * training side (src/train/policy-file.ts) writes the file.
 */
import { z } from 'zod';
import type { AnyPolicyDefinition, PolicyContext, PolicyModel } from '../algos/algorithm.js';
import { findPolicyDefinition, impliedParameters, policyAlgorithmNames } from '../algos/policy-registry.js';
import { Rng } from '../engine/rng.js';
import { loadModuleTensors } from '../nn/module-tensors.js';
import { decodeSafetensors, SafetensorsError, type StoredTensor } from '../nn/safetensors.js';
import { describeIssues } from '../util/zod-issues.js';

export const POLICY_FORMAT_VERSION = 1;
/** the safetensors metadata key holding the header */
export const POLICY_METADATA_KEY = 'stitch';

const numbers = z.array(z.number());

export const PolicyHeaderSchema = z.object({
  format: z.literal('stitch-policy'),
  formatVersion: z.literal(POLICY_FORMAT_VERSION),
  algo: z.string(),
  /** the algorithm's full config */
  config: z.record(z.string(), z.unknown()),
  context: z.object({
    obsDim: z.number().int().min(1),
    actionDim: z.number().int().min(1),
    stateMean: numbers,
    stateStd: numbers,
    actionLow: numbers,
    actionHigh: numbers,
    maxEpisodeSteps: z.number().int().min(1),
  }).strict(),
  returnScale: z.number().positive(),
  contextLength: z.number().int().min(1),
  datasetId: z.string(),
  envId: z.string(),
  /** training steps behind these weights */
  step: z.number().int().min(0),
  evaluationConditions: z.array(z.object({ label: z.string(), targetReturn: z.number().optional() }).strict()).min(1),
}).strict();

export type PolicyHeader = z.infer<typeof PolicyHeaderSchema>;

/** An algorithm config as its schema parsed it. */
export type AlgorithmConfig = { batchSize: number; steps: number; context: number } & Record<string, unknown>;

function parseHeader(metadata: Record<string, string>, source: string): PolicyHeader {
  const text = metadata[POLICY_METADATA_KEY];
  if (text === undefined) throw new SafetensorsError(`${source}: not a Stitch policy file (no "${POLICY_METADATA_KEY}" metadata)`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new SafetensorsError(`${source}: the policy header is not valid JSON`);
  }
  const parsed = PolicyHeaderSchema.safeParse(raw);
  if (!parsed.success) throw new SafetensorsError(`${source}: invalid policy header: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}

/**
 * The header must describe the weights the file holds. Checked before the network is built, so a
 * hostile header (a width of 10^6, a million-dimensional observation) is refused instead of
 * making the loader allocate gigabytes for a network the file cannot fill.
 */
function checkHeaderAgainstFile(header: PolicyHeader, tensors: ReadonlyMap<string, StoredTensor>, source: string): void {
  const { context } = header;
  for (const [key, expected] of [['stateMean', context.obsDim], ['stateStd', context.obsDim], ['actionLow', context.actionDim], ['actionHigh', context.actionDim]] as const) {
    if (context[key].length !== expected) throw new SafetensorsError(`${source}: invalid policy header: context.${key} has ${context[key].length} values for ${expected} dimensions`);
  }
  let stored = 0;
  for (const tensor of tensors.values()) stored += tensor.data.length;
  const implied = impliedParameters(header.config);
  if (implied > stored) throw new SafetensorsError(`${source}: invalid policy header: its config builds at least ${implied} parameters but the file holds ${stored}`);
}

/** Acting settings to use instead of the file's (keys: the algorithm's `actingSettings`). */
export type ActingOverrides = Readonly<Record<string, unknown>>;

/** An acting override the algorithm does not allow, or a value its config schema refuses. */
export class ActingSettingsError extends Error {
  override readonly name = 'ActingSettingsError';
}

function algorithmOf(header: PolicyHeader, source: string, acting: ActingOverrides): { definition: AnyPolicyDefinition; config: AlgorithmConfig } {
  const definition = findPolicyDefinition(header.algo);
  if (definition === undefined) throw new SafetensorsError(`${source}: unknown algorithm '${header.algo}'; known: ${policyAlgorithmNames().join(', ')}`);
  const parsed = definition.configSchema.safeParse(header.config);
  if (!parsed.success) throw new SafetensorsError(`${source}: invalid ${definition.name} config: ${describeIssues(parsed.error.issues)}`);
  if (Object.keys(acting).length === 0) return { definition, config: parsed.data as AlgorithmConfig };
  const allowed: readonly string[] = definition.actingSettings;
  const refused = Object.keys(acting).filter((key) => !allowed.includes(key));
  if (refused.length > 0) {
    const settings = allowed.length === 0 ? `a ${definition.name} policy has no acting settings (it acts on its own predictions)` : `acting settings of a ${definition.name} policy: ${allowed.join(', ')}`;
    const reasons = refused.map((key) => key in header.config ? `${key}: not an acting setting (the weights were trained with it)` : `${key}: no such ${definition.name} setting`);
    throw new ActingSettingsError(`${reasons.join('; ')}; ${settings}`);
  }
  const overridden = definition.configSchema.safeParse({ ...header.config, ...acting });
  if (!overridden.success) throw new ActingSettingsError(`invalid acting setting: ${describeIssues(overridden.error.issues)}`);
  return { definition, config: overridden.data as AlgorithmConfig };
}

/** A policy file's acting model, rebuilt from its header with the stored weights loaded, in eval mode. */
export interface RestoredPolicy {
  header: PolicyHeader;
  definition: AnyPolicyDefinition;
  config: AlgorithmConfig;
  context: PolicyContext;
  model: PolicyModel;
}

/**
 * Reads and validates a policy file's bytes, builds what its algorithm needs to act and loads the
 * policy weights (eval mode). `source` names the file in error messages; `acting` replaces acting
 * settings of the file's config (the returned header and config show what the policy acts with).
 */
export function restorePolicyFromBytes(bytes: Uint8Array, source = 'policy file', acting: ActingOverrides = {}): RestoredPolicy {
  const file = decodeSafetensors(bytes, source);
  const stored = parseHeader(file.metadata, source);
  checkHeaderAgainstFile(stored, file.tensors, source);
  const { definition, config } = algorithmOf(stored, source, acting);
  const { context: c } = stored;
  const context: PolicyContext = {
    obsDim: c.obsDim, actionDim: c.actionDim,
    stateMean: Float32Array.from(c.stateMean), stateStd: Float32Array.from(c.stateStd),
    actionLow: c.actionLow, actionHigh: c.actionHigh, maxEpisodeSteps: c.maxEpisodeSteps,
  };
  // initial weights are overwritten below; the seed only has to be valid
  let model: PolicyModel;
  try {
    model = definition.createPolicyModel(config, context, new Rng(0));
  } catch (error) {
    // the networks refuse impossible sizes (e.g. a width not divisible by the heads) with a RangeError
    if (error instanceof RangeError) throw new SafetensorsError(`${source}: invalid policy header: ${error.message}`);
    throw error;
  }
  for (const [name, module] of Object.entries(model.policyModules())) loadModuleTensors(module, file.tensors, source, `${name}.`);
  model.setTraining(false);
  const header = Object.keys(acting).length === 0 ? stored : { ...stored, config: { ...stored.config, ...acting }, evaluationConditions: model.evaluationConditions() };
  return { header, definition, config, context, model };
}
