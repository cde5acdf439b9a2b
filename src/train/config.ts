/**
 * The run config: everything a training run depends on, resolved once and saved as config.json.
 * The algorithm's own config is built as defaults ← preset ← overrides and validated by the
 * algorithm's schema; the run's step budget is copied into it so schedules see the same number.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import type { AnyAlgorithmDefinition } from '../algos/algorithm.js';
import { impliedParameters } from '../algos/policy-registry.js';
import { algorithmNames, findAlgorithm } from '../algos/registry.js';
import { envIds, envSpec, type EnvSpec } from '../envs/registry.js';
import { NON_FINITE_POLICIES, type NonFinitePolicy } from './nonfinite.js';
import { describeIssues } from '../util/zod-issues.js';

export const RUN_FORMAT_VERSION = 1;

/** A config or input problem a user can fix; the CLI prints the message as one line. */
export class RunConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunConfigError';
  }
}

const count = (min: number) => z.number().int().min(min);

export const RunConfigSchema = z.object({
  format: z.literal('stitch-run'),
  formatVersion: z.literal(RUN_FORMAT_VERSION),
  algo: z.string().min(1),
  /** absolute path of the dataset file or folder */
  dataset: z.string().min(1),
  /** selects presets and is written into the policy file */
  datasetId: z.string().min(1),
  /** the evaluation task */
  env: z.string().min(1),
  seed: count(0),
  steps: count(1),
  /** evaluate every N steps; 0: only after the last step (which is always evaluated) */
  evalEvery: count(0),
  evalEpisodes: count(1),
  /** evaluation has its own seed, so evaluating never perturbs training randomness */
  evalSeed: count(0),
  /** environments stepped side by side during evaluation */
  evalEnvs: count(1),
  /** a metrics record every N steps (and after the last step) */
  logEvery: count(1),
  /** a checkpoint every N steps; 0: only after the last step (which always gets one) */
  checkpointEvery: count(0),
  /** the preset applied to the algorithm config (a dataset id of the algorithm's presets), null when none */
  preset: z.string().nullable(),
  /** the algorithm's full config, as its schema resolved it */
  algorithm: z.record(z.string(), z.unknown()),
  /**
   * a non-finite loss or gradient: 'halt' stops the run (its last checkpoint stays the latest),
   * 'skip' drops the batch, leaves the weights as they were and counts it. Runs saved before
   * this key existed read as 'halt'.
   */
  onNonFinite: z.enum(NON_FINITE_POLICIES).default('halt'),
  /**
   * also keep the weights of the best evaluation (policy-best.safetensors beside the last step's
   * policy.safetensors); runs saved before this key existed read as false
   */
  keepBest: z.boolean().default(false),
  /**
   * evaluate on a worker thread while training goes on (the same records: an evaluation depends
   * only on the weights and the evaluation seed); runs saved before this key existed read as false
   */
  evalWorker: z.boolean().default(false),
}).strict();

export type RunConfig = z.infer<typeof RunConfigSchema>;

/** What a caller may choose; everything left out gets its documented default. */
export interface RunRequest {
  algo: string;
  dataset: string;
  env: string;
  /** default: the file's dataset_id attribute, else the env id */
  datasetId?: string;
  seed?: number;
  /** default: the algorithm config's steps (after preset and overrides) */
  steps?: number;
  evalEvery?: number;
  evalEpisodes?: number;
  evalSeed?: number;
  evalEnvs?: number;
  logEvery?: number;
  checkpointEvery?: number;
  /** a preset name, 'none' for no preset; default: the preset of the dataset id when there is one */
  preset?: string;
  /** algorithm config fields, applied over defaults and preset */
  overrides?: Record<string, unknown>;
  /** default 'halt' */
  onNonFinite?: NonFinitePolicy;
  /** default false */
  keepBest?: boolean;
  /** default false */
  evalWorker?: boolean;
}

export const RUN_DEFAULTS = { seed: 0, evalEpisodes: 10, evalEnvs: 32, logEvery: 100 } as const;

/** one line naming every failing field */
export { describeIssues } from '../util/zod-issues.js';

export function requireAlgorithm(name: string): AnyAlgorithmDefinition {
  const definition = findAlgorithm(name);
  if (definition === undefined) throw new RunConfigError(`unknown algorithm '${name}'; known: ${algorithmNames().join(', ')}`);
  return definition;
}

export function requireEnv(id: string): EnvSpec {
  try {
    return envSpec(id);
  } catch {
    throw new RunConfigError(`unknown environment '${id}'; known: ${envIds().join(', ')}`);
  }
}

/** Parses an algorithm config with its schema; failures name each field. */
export function parseAlgorithmConfig(definition: AnyAlgorithmDefinition, raw: unknown): { batchSize: number; steps: number; context: number } & Record<string, unknown> {
  const parsed = definition.configSchema.safeParse(raw);
  if (!parsed.success) throw new RunConfigError(`invalid ${definition.name} config: ${describeIssues(parsed.error.issues)}`);
  return parsed.data as { batchSize: number; steps: number; context: number } & Record<string, unknown>;
}

export { impliedParameters } from '../algos/policy-registry.js';

/** 2^28 parameters: 1 GiB of float32 weights, 3 GiB with Adam's moments; far beyond any CPU-trainable model */
export const MAX_PARAMETERS = 2 ** 28;
/** window steps in one batch (batchSize x context); the batch arrays hold about 10 floats per step and dimension */
export const MAX_BATCH_STEPS = 2 ** 24;

/**
 * Refuses configs whose allocations alone would take gigabytes (a width of 10^6 from a typo or a
 * hostile config.json), before anything is allocated; the message names the fields.
 */
export function checkAllocationBounds(config: { batchSize: number; context: number } & Record<string, unknown>, source: string): void {
  const parameters = impliedParameters(config);
  if (parameters > MAX_PARAMETERS) {
    throw new RunConfigError(`${source}: width ${String(config.width)}, layers ${String(config.layers)}, mlpWidth ${String(config.mlpWidth)} and maxTimestep ${String(config.maxTimestep)} build at least ${parameters} parameters; Stitch trains at most ${MAX_PARAMETERS}`);
  }
  if (config.batchSize * config.context > MAX_BATCH_STEPS) {
    throw new RunConfigError(`${source}: batchSize ${config.batchSize} x context ${config.context} is more than ${MAX_BATCH_STEPS} window steps per batch`);
  }
}

function choosePreset(definition: AnyAlgorithmDefinition, requested: string | undefined, datasetId: string): string | null {
  if (requested === 'none') return null;
  if (requested === undefined) return Object.hasOwn(definition.presets, datasetId) ? datasetId : null;
  if (!Object.hasOwn(definition.presets, requested)) {
    throw new RunConfigError(`${definition.name} has no preset '${requested}'; known: ${Object.keys(definition.presets).join(', ')}, or none`);
  }
  return requested;
}

/**
 * The full config of a new run. The dataset's own id (from its attributes) is passed in because
 * reading the file is the caller's business.
 */
export function resolveRunConfig(request: RunRequest, fileDatasetId: string | undefined): RunConfig {
  const definition = requireAlgorithm(request.algo);
  requireEnv(request.env);
  const datasetId = request.datasetId ?? fileDatasetId ?? request.env;
  const preset = choosePreset(definition, request.preset, datasetId);
  const presetFields = preset === null ? {} : definition.presets[preset];
  const merged = { ...presetFields, ...request.overrides };
  const algorithm = parseAlgorithmConfig(definition, request.steps === undefined ? merged : { ...merged, steps: request.steps });
  const steps = algorithm.steps;
  const periodic = Math.max(1, Math.ceil(steps / 10));
  const config = {
    format: 'stitch-run',
    formatVersion: RUN_FORMAT_VERSION,
    algo: definition.name,
    dataset: resolve(request.dataset),
    datasetId,
    env: request.env,
    seed: request.seed ?? RUN_DEFAULTS.seed,
    steps,
    evalEvery: request.evalEvery ?? periodic,
    evalEpisodes: request.evalEpisodes ?? RUN_DEFAULTS.evalEpisodes,
    evalSeed: request.evalSeed ?? request.seed ?? RUN_DEFAULTS.seed,
    evalEnvs: request.evalEnvs ?? RUN_DEFAULTS.evalEnvs,
    logEvery: request.logEvery ?? Math.min(RUN_DEFAULTS.logEvery, periodic),
    checkpointEvery: request.checkpointEvery ?? periodic,
    preset,
    algorithm,
    onNonFinite: request.onNonFinite ?? 'halt',
    keepBest: request.keepBest ?? false,
    evalWorker: request.evalWorker ?? false,
  };
  return validateRunConfig(config, 'run config');
}

export function validateRunConfig(raw: unknown, source: string): RunConfig {
  const parsed = RunConfigSchema.safeParse(raw);
  if (!parsed.success) throw new RunConfigError(`${source}: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}
