/**
 * The self-describing policy file: the policy modules' weights as safetensors, with a JSON header
 * in `__metadata__.stitch` holding everything needed to act (algorithm and its full config, state
 * mean/std, action bounds, episode limit, return scale, context length, dataset and env ids).
 * `loadPolicy` rebuilds the algorithm from the header, loads the weights and acts exactly as the
 * training-time evaluation did.
 */
import { z } from 'zod';
import type { Algorithm, AnyAlgorithmDefinition, EvaluationCondition, PolicyContext, SequencePolicy } from '../algos/algorithm.js';
import { Rng } from '../engine/rng.js';
import { loadModuleTensors, moduleTensors, readSafetensors } from '../nn/checkpoint.js';
import type { Module } from '../nn/module.js';
import { encodeSafetensors, SafetensorsError, type StoredTensor } from '../nn/safetensors.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { describeIssues, impliedParameters, parseAlgorithmConfig, requireAlgorithm } from './config.js';

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

/** Writes policy.safetensors atomically: tensors `<module>.<parameter>` of the policy modules. */
export function writePolicyFile(path: string, contents: PolicyFileContents): void {
  const header = policyHeader(contents);
  writeFileAtomic(path, encodeSafetensors(prefixedTensors(contents.algorithm.policyModules()), { [POLICY_METADATA_KEY]: JSON.stringify(header) }));
}

function parseHeader(metadata: Record<string, string>, path: string): PolicyHeader {
  const text = metadata[POLICY_METADATA_KEY];
  if (text === undefined) throw new SafetensorsError(`${path}: not a Stitch policy file (no "${POLICY_METADATA_KEY}" metadata)`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new SafetensorsError(`${path}: the policy header is not valid JSON`);
  }
  const parsed = PolicyHeaderSchema.safeParse(raw);
  if (!parsed.success) throw new SafetensorsError(`${path}: invalid policy header: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}

/**
 * The header must describe the weights the file holds. Checked before the network is built, so a
 * hostile header (a width of 10^6, a million-dimensional observation) is refused instead of
 * making the loader allocate gigabytes for a network the file cannot fill.
 */
function checkHeaderAgainstFile(header: PolicyHeader, tensors: ReadonlyMap<string, StoredTensor>, path: string): void {
  const { context } = header;
  for (const [key, expected] of [['stateMean', context.obsDim], ['stateStd', context.obsDim], ['actionLow', context.actionDim], ['actionHigh', context.actionDim]] as const) {
    if (context[key].length !== expected) throw new SafetensorsError(`${path}: invalid policy header: context.${key} has ${context[key].length} values for ${expected} dimensions`);
  }
  let stored = 0;
  for (const tensor of tensors.values()) stored += tensor.data.length;
  const implied = impliedParameters(header.config);
  if (implied > stored) throw new SafetensorsError(`${path}: invalid policy header: its config builds at least ${implied} parameters but the file holds ${stored}`);
}

export interface LoadPolicyOptions {
  /** the condition `act` uses, by label (default: the first, the headline condition) */
  condition?: string;
  /** seeds the policy's own randomness, as the evaluation seed does during training (default 0) */
  seed?: number;
}

/** A trained policy: batched policies for evaluation and a single-environment `act`. */
export class Policy {
  readonly conditions: readonly EvaluationCondition[];
  private readonly single: SequencePolicy;
  private readonly observationRow: Float64Array;
  private readonly actionRow: Float32Array;
  private readonly activeRow = Uint8Array.of(1);
  private readonly rewardRow = new Float64Array(1);
  private episode = 0;
  /** act() was called and its step's reward has not been observed yet */
  private awaitingReward = false;

  constructor(
    readonly header: PolicyHeader,
    private readonly algorithm: Algorithm,
    private readonly condition: EvaluationCondition,
    private readonly seed: number,
  ) {
    this.conditions = algorithm.evaluationConditions();
    this.observationRow = new Float64Array(header.context.obsDim);
    this.actionRow = new Float32Array(header.context.actionDim);
    this.single = this.createVectorPolicy(1, condition, new Rng(seed));
    this.single.beginEpisode(0, 0, seed);
  }

  /** a policy for numEnvs environments (the evaluation loop's interface) */
  createVectorPolicy(numEnvs: number, condition: EvaluationCondition = this.condition, rng: Rng = new Rng(this.seed)): SequencePolicy {
    return this.algorithm.createPolicy(numEnvs, condition, rng);
  }

  /** start a new episode: the history is cleared */
  reset(episodeSeed = this.seed): void {
    this.episode += 1;
    this.single.beginEpisode(0, this.episode, episodeSeed);
    this.awaitingReward = false;
  }

  /** the action for a raw observation; call observeReward with the step's reward before the next act */
  act(observation: ArrayLike<number>): Float32Array {
    if (this.awaitingReward) throw new Error('Policy.act: call observeReward(reward) after each environment step (return-conditioned policies count the reward down)');
    if (observation.length !== this.observationRow.length) throw new RangeError(`Policy.act: expected ${this.observationRow.length} observation values, got ${observation.length}`);
    for (let d = 0; d < observation.length; d++) this.observationRow[d] = observation[d] as number;
    this.single.act(this.observationRow, this.activeRow, this.actionRow);
    this.awaitingReward = true;
    return this.actionRow.slice();
  }

  observeReward(reward: number): void {
    if (!this.awaitingReward) throw new Error('Policy.observeReward: no action is waiting for its reward');
    this.rewardRow[0] = reward;
    this.single.observeRewards?.(this.rewardRow, this.activeRow);
    this.awaitingReward = false;
  }
}

/** A policy file's algorithm, rebuilt from its header with the stored weights loaded, in eval mode. */
export interface RestoredPolicy {
  header: PolicyHeader;
  definition: AnyAlgorithmDefinition;
  config: ReturnType<typeof parseAlgorithmConfig>;
  context: PolicyContext;
  algorithm: Algorithm;
}

/**
 * Reads and validates a policy file, rebuilds its algorithm from the header and loads the policy
 * weights (eval mode): what loadPolicy acts with and what offline evaluation scores.
 */
export function restorePolicy(path: string): RestoredPolicy {
  const file = readSafetensors(path);
  const header = parseHeader(file.metadata, path);
  checkHeaderAgainstFile(header, file.tensors, path);
  let definition: AnyAlgorithmDefinition;
  let config: ReturnType<typeof parseAlgorithmConfig>;
  try {
    definition = requireAlgorithm(header.algo);
    config = parseAlgorithmConfig(definition, header.config);
  } catch (error) {
    throw new SafetensorsError(`${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const { context: c } = header;
  const context: PolicyContext = {
    obsDim: c.obsDim, actionDim: c.actionDim,
    stateMean: Float32Array.from(c.stateMean), stateStd: Float32Array.from(c.stateStd),
    actionLow: c.actionLow, actionHigh: c.actionHigh, maxEpisodeSteps: c.maxEpisodeSteps,
  };
  // initial weights are overwritten below; the seed only has to be valid
  let algorithm: Algorithm;
  try {
    algorithm = definition.create(config, context, new Rng(0));
  } catch (error) {
    // the networks refuse impossible sizes (e.g. a width not divisible by the heads) with a RangeError
    if (error instanceof RangeError) throw new SafetensorsError(`${path}: invalid policy header: ${error.message}`);
    throw error;
  }
  for (const [name, module] of Object.entries(algorithm.policyModules())) loadModuleTensors(module, file.tensors, path, `${name}.`);
  algorithm.setTraining(false);
  return { header, definition, config, context, algorithm };
}

/** Rebuilds the algorithm from the file's header and loads the policy weights (eval mode). */
export function loadPolicy(path: string, options: LoadPolicyOptions = {}): Policy {
  const { header, algorithm } = restorePolicy(path);
  const conditions = algorithm.evaluationConditions();
  const condition = options.condition === undefined ? conditions[0] : conditions.find((candidate) => candidate.label === options.condition);
  if (condition === undefined) {
    throw new SafetensorsError(`${path}: no evaluation condition '${options.condition}'; the policy has ${conditions.map((candidate) => `'${candidate.label}'`).join(', ')}`);
  }
  return new Policy(header, algorithm, condition, options.seed ?? 0);
}
