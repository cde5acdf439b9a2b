/**
 * The training loop every algorithm shares: sample → update → log, evaluate every N steps,
 * checkpoint every N steps, and at the end write eval.json and policy.safetensors.
 *
 * Determinism: one Rng(seed) at the root is forked, in this order, into the algorithm's generator
 * (initialisation, then dropout) and the sampler's. Evaluation builds its own generators from the
 * evaluation seed, so evaluating never moves the training streams. A resumed run restores both
 * streams in place, the sampler's epoch position, weights, optimiser moments and step counts and
 * the algorithm's extra state, so it computes exactly the losses of an uninterrupted run.
 *
 * Faults stop a run without losing more than the steps since its last checkpoint: a failed write
 * (a full disk) and, with onNonFinite 'halt', a non-finite loss or gradient throw RunStoppedError
 * naming that checkpoint; with 'skip' the faulty batch is dropped, the update undone and counted.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Algorithm, AnyAlgorithmDefinition, DatasetPreparation, PolicyContext } from '../algos/algorithm.js';
import { loadDataset, type LoadedDataset } from '../data/load.js';
import { stateStatistics } from '../data/preprocess.js';
import { WindowSampler } from '../data/sampler.js';
import type { TrajectoryStore } from '../data/store.js';
import { Rng } from '../engine/rng.js';
import { camelCaseKeys } from '../util/json-keys.js';
import { FileWriteError, removeStaleTemporaries, writeFileAtomic } from '../util/atomic-file.js';
import {
  CheckpointError, latestGoodCheckpoint, optimizerStates, restoreAlgorithm, writeCheckpoint,
  CHECKPOINT_DIR, CHECKPOINT_FORMAT_VERSION, type TrainingState,
} from './checkpoint.js';
import { checkAllocationBounds, parseAlgorithmConfig, requireAlgorithm, requireEnv, RunConfigError, validateRunConfig, type RunConfig } from './config.js';
import { evaluateConditions, isBetter, type EvaluationRecord } from './evaluate.js';
import { RunLogs, type MetricsRecord } from './metrics.js';
import { describeBatch, NonFiniteError, type NonFinitePolicy } from './nonfinite.js';
import { writePolicyFile } from './policy-file.js';
import { Progress, type ProgressStream } from './progress.js';
import { algorithmSamplerOptions } from './sampling.js';
import { UpdateSnapshot } from './snapshot.js';

export const CONFIG_FILE = 'config.json';
export const EVAL_FILE = 'eval.json';
export const POLICY_FILE = 'policy.safetensors';
export const EVAL_FORMAT_VERSION = 1;

export const BEST_RULE = 'the evaluation with the highest headline normalized_score (mean_return where the task has no reference scores); ties go to the earlier step';

export interface TrainIO {
  /** progress and messages (stderr in the CLI) */
  stream: ProgressStream;
  /** redraw one line in place; default: when the stream is a terminal and CI is unset */
  interactive?: boolean;
}

export interface TrainOutcome {
  runDir: string;
  evalPath: string;
  policyPath: string;
  /** report.html, written last */
  reportPath: string | null;
  last: EvaluationRecord;
  best: EvaluationRecord;
  /** batches dropped for a non-finite loss or gradient (onNonFinite 'skip') */
  skippedBatches: number;
}

/**
 * The run stopped before its end: a non-finite loss or gradient with onNonFinite 'halt', or a
 * write that failed (a full disk). Its newest checkpoint is intact and --resume continues from it.
 */
export class RunStoppedError extends Error {
  constructor(readonly reason: 'non-finite' | 'write-failed', message: string) {
    super(message);
    this.name = 'RunStoppedError';
  }
}

interface Session {
  config: RunConfig;
  definition: AnyAlgorithmDefinition;
  algorithmConfig: ReturnType<typeof parseAlgorithmConfig>;
  context: PolicyContext;
  algorithm: Algorithm;
  sampler: WindowSampler;
  algorithmRng: Rng;
  samplerRng: Rng;
  datasetSha256: string;
  /** what the algorithm derived from the dataset (RDT/RVDT's expert subset), for eval.json */
  preparationMetadata: Record<string, string | number> | null;
}

/** over the arrays training reads, so a checkpoint is never resumed on other data */
function fingerprint(store: TrajectoryStore): string {
  const hash = createHash('sha256');
  for (const array of [store.observations, store.actions, store.rewards, store.terminated, store.truncated, store.episodeStarts]) {
    hash.update(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  }
  return hash.digest('hex');
}

async function prepareSession(config: RunConfig, preloaded?: LoadedDataset): Promise<Session> {
  const definition = requireAlgorithm(config.algo);
  const spec = requireEnv(config.env);
  const algorithmConfig = parseAlgorithmConfig(definition, config.algorithm);
  checkAllocationBounds(algorithmConfig, `invalid ${definition.name} config`);
  if (algorithmConfig.steps !== config.steps) throw new RunConfigError(`config: algorithm.steps (${algorithmConfig.steps}) differs from steps (${config.steps})`);
  const { store } = preloaded ?? await loadDataset(config.dataset);
  if (store.obsDim !== spec.obsDim || store.actionDim !== spec.actionDim) {
    throw new RunConfigError(`${config.dataset}: observations ${store.obsDim}-d and actions ${store.actionDim}-d, but ${spec.id} has ${spec.obsDim}-d observations and ${spec.actionDim}-d actions`);
  }
  const statistics = stateStatistics(store);
  const context: PolicyContext = {
    obsDim: store.obsDim,
    actionDim: store.actionDim,
    stateMean: statistics.mean,
    stateStd: statistics.std,
    actionLow: [...spec.actionLow],
    actionHigh: [...spec.actionHigh],
    maxEpisodeSteps: spec.maxEpisodeSteps,
  };
  const root = new Rng(config.seed);
  const algorithmRng = root.fork();
  const samplerRng = root.fork();
  let preparation: DatasetPreparation | undefined;
  try {
    preparation = definition.prepare?.(store, algorithmConfig);
  } catch (error) {
    if (error instanceof RangeError) throw new RunConfigError(`${config.dataset}: ${error.message}`);
    throw error;
  }
  let algorithm: Algorithm;
  try {
    algorithm = definition.create(algorithmConfig, context, algorithmRng, preparation);
  } catch (error) {
    // the networks refuse impossible sizes (e.g. a width not divisible by the heads) with a RangeError
    if (error instanceof RangeError) throw new RunConfigError(`invalid ${definition.name} config: ${error.message}`);
    throw error;
  }
  let sampler: WindowSampler;
  try {
    sampler = new WindowSampler(store, {
      ...algorithmSamplerOptions(definition, algorithmConfig, config.datasetId, store, statistics),
      ...(preparation?.samplerEpisodeWeights === undefined ? {} : { episodeWeights: preparation.samplerEpisodeWeights }),
    }, samplerRng);
  } catch (error) {
    if (error instanceof RangeError) throw new RunConfigError(`${config.dataset}: ${error.message}`);
    throw error;
  }
  return {
    config, definition, algorithmConfig, context, algorithm, sampler, algorithmRng, samplerRng,
    datasetSha256: fingerprint(store), preparationMetadata: preparation?.metadata ?? null,
  };
}

const isLearningRate = (name: string): boolean => name === 'lr' || name.startsWith('lr_');

/**
 * The scalars of the steps since the last metrics record: means of every term, except learning
 * rates, which are reported at the logged step.
 */
class MetricsInterval {
  constructor(private state: TrainingState['metrics'] = { count: 0, seconds: 0, sums: {}, latest: {} }) {}

  add(scalars: Record<string, number>, seconds: number): void {
    this.state.count += 1;
    this.state.seconds += seconds;
    for (const [name, value] of Object.entries(scalars)) {
      this.state.sums[name] = (this.state.sums[name] ?? 0) + value;
      this.state.latest[name] = value;
    }
  }

  close(step: number, timeSeconds: number): MetricsRecord {
    const { count, seconds, sums, latest } = this.state;
    const record: MetricsRecord = { step, time_s: timeSeconds };
    for (const name of Object.keys(sums)) record[name] = isLearningRate(name) ? (latest[name] as number) : (sums[name] as number) / count;
    record.steps_per_s = seconds > 0 ? count / seconds : 0;
    this.state = { count: 0, seconds: 0, sums: {}, latest: {} };
    return record;
  }

  snapshot(): TrainingState['metrics'] {
    return structuredClone(this.state);
  }
}

/** the term the progress line shows: `loss` if reported, else the first loss term */
function headlineLoss(scalars: Record<string, number>): [string, number] {
  const names = Object.keys(scalars);
  const name = names.find((n) => n === 'loss') ?? names.find((n) => n.endsWith('loss')) ?? names[0] ?? 'loss';
  return [name, scalars[name] ?? Number.NaN];
}

function formatEvaluation(record: EvaluationRecord): string {
  const parts = record.conditions.map((c) => `${c.label}: ${c.normalized_score === null ? `return ${c.mean_return.toFixed(2)}` : `${c.normalized_score.toFixed(1)} ± ${(c.normalized_std ?? 0).toFixed(1)}`}`);
  return `eval step ${record.step} (${record.episodes} episodes): ${parts.join(', ')}`;
}

interface Resumed {
  state: TrainingState;
  checkpointPath: string;
}

async function runLoop(runDir: string, session: Session, resumed: Resumed | null, io: TrainIO): Promise<TrainOutcome> {
  const { config, algorithm, sampler } = session;
  const logs = new RunLogs(runDir);
  let step = resumed?.state.step ?? 0;
  let last = resumed?.state.evaluation.last ?? null;
  let best = resumed?.state.evaluation.best ?? null;
  const interval = new MetricsInterval(resumed === null ? undefined : structuredClone(resumed.state.metrics));
  const elapsedBefore = resumed?.state.elapsedSeconds ?? 0;
  const sessionStart = performance.now();
  const elapsed = (): number => elapsedBefore + (performance.now() - sessionStart) / 1000;
  const progress = new Progress(io.stream, config.steps, step, io.interactive === undefined ? {} : { interactive: io.interactive });
  const evaluationSettings = { env: config.env, episodes: config.evalEpisodes, seed: config.evalSeed, numEnvs: config.evalEnvs };
  let skippedBatches = resumed?.state.skippedBatches ?? 0;
  let lastCheckpoint = resumed?.checkpointPath ?? null;
  // only 'skip' continues after a fault, so only it pays for a copy of the state before each update
  const snapshot = config.onNonFinite === 'skip' ? new UpdateSnapshot(algorithm) : null;
  const closeInterval = (): MetricsRecord => {
    const record = interval.close(step, elapsed());
    if (config.onNonFinite === 'skip') record.skipped_batches = skippedBatches;
    return record;
  };
  const stopped = (reason: RunStoppedError['reason'], what: string): RunStoppedError => {
    const resumeHint = `stitch train --resume ${runDir}`;
    const checkpoint = lastCheckpoint === null
      ? 'no checkpoint was written yet, so the run must start over'
      : `the last good checkpoint is ${relative(runDir, lastCheckpoint)} (continue with ${resumeHint}${reason === 'non-finite' ? ', adding --on-nonfinite skip to skip such batches' : ''})`;
    return new RunStoppedError(reason, `${what}; the run stopped at step ${step}/${config.steps}; ${checkpoint}`);
  };
  algorithm.setTraining(true);

  try {
    while (step < config.steps) {
      const started = performance.now();
      const batch = sampler.sample();
      snapshot?.capture();
      let scalars: Record<string, number> | null = null;
      try {
        scalars = algorithm.update(batch, step);
      } catch (error) {
        if (!(error instanceof NonFiniteError)) throw error;
        const fault = `step ${step + 1}: ${error.message}; batch ${step + 1} (${describeBatch(batch)})`;
        if (snapshot === null) throw stopped('non-finite', `${fault}; ${error.kind === 'weights' ? 'the changed weights were not saved' : 'the update was stopped before it changed the weights'}`);
        snapshot.restore();
        skippedBatches += 1;
        progress.message(`skipped batch: ${fault}; the weights are unchanged (${skippedBatches} skipped so far)`);
      }
      step += 1;
      if (scalars !== null) interval.add(scalars, (performance.now() - started) / 1000);
      if (step % config.logEvery === 0 || step === config.steps) logs.appendMetrics(closeInterval());
      if (scalars !== null) {
        const [lossName, loss] = headlineLoss(scalars);
        progress.update(step, lossName, loss);
      }

      if ((config.evalEvery > 0 && step % config.evalEvery === 0) || step === config.steps) {
        algorithm.setTraining(false);
        const record = await evaluateConditions(step, algorithm.evaluationConditions(), (n, condition, rng) => algorithm.createPolicy(n, condition, rng), evaluationSettings);
        algorithm.setTraining(true);
        logs.appendEvaluation(record);
        last = record;
        if (isBetter(record, best)) best = record;
        progress.message(formatEvaluation(record));
      }

      if ((config.checkpointEvery > 0 && step % config.checkpointEvery === 0) || step === config.steps) {
        // the logs up to this step reach the disk before the checkpoint that vouches for them
        logs.sync();
        lastCheckpoint = writeCheckpoint(runDir, {
          format: 'stitch-checkpoint',
          formatVersion: CHECKPOINT_FORMAT_VERSION,
          algo: config.algo,
          step,
          datasetSha256: session.datasetSha256,
          elapsedSeconds: elapsed(),
          rng: { algorithm: session.algorithmRng.state(), sampler: session.samplerRng.state() },
          sampler: sampler.state(),
          optimizers: optimizerStates(algorithm),
          extraState: algorithm.extraState?.() ?? {},
          metrics: interval.snapshot(),
          evaluation: { last, best },
          skippedBatches,
        }, algorithm);
      }
    }
    progress.finish();
    if (last === null || best === null) throw new Error('the last step is always evaluated; no evaluation was recorded');
    const outcome = writeFinalFiles(runDir, session, step, last, best, skippedBatches);
    // last: the report reads every file above; imported on demand to keep report code (and a
    // trainer <-> report import cycle) off the training path
    const { writeRunReport } = await import('../report/report.js');
    return { ...outcome, reportPath: await writeRunReport(runDir) };
  } catch (error) {
    if (error instanceof FileWriteError) throw stopped('write-failed', error.message);
    throw error;
  }
}

/** policy.safetensors and eval.json, after the last step (its checkpoint is already written) */
function writeFinalFiles(runDir: string, session: Session, step: number, last: EvaluationRecord, best: EvaluationRecord, skippedBatches: number): TrainOutcome {
  const { config, algorithm } = session;
  const policyPath = join(runDir, POLICY_FILE);
  algorithm.setTraining(false);
  writePolicyFile(policyPath, {
    definition: session.definition, config: session.algorithmConfig, context: session.context, algorithm,
    datasetId: config.datasetId, envId: config.env, step,
  });
  const evalPath = join(runDir, EVAL_FILE);
  // camelCase on disk, as every JSON Stitch writes (docs/cli.md); readers accept both spellings
  writeFileAtomic(evalPath, `${JSON.stringify(camelCaseKeys({
    format: 'stitch-eval',
    formatVersion: EVAL_FORMAT_VERSION,
    algo: config.algo,
    env: config.env,
    dataset_id: config.datasetId,
    steps: config.steps,
    headline: `the last evaluation's first condition (${last.headline})`,
    normalized_score: last.normalized_score,
    normalized_std: last.normalized_std,
    mean_return: last.mean_return,
    std_return: last.std_return,
    episodes: last.episodes,
    seed: last.seed,
    last,
    best,
    best_rule: BEST_RULE,
    policy: POLICY_FILE,
    skipped_batches: skippedBatches,
    dataset_preparation: session.preparationMetadata,
  }), null, 2)}\n`);
  return { runDir, evalPath, policyPath, reportPath: null, last, best, skippedBatches };
}

/** A new run in `runDir`, which must not exist or be empty (a run is never overwritten). */
export async function startRun(runDir: string, config: RunConfig, io: TrainIO, dataset?: LoadedDataset): Promise<TrainOutcome> {
  if (existsSync(runDir) && readdirSync(runDir).length > 0) {
    throw new RunConfigError(`${runDir} already exists and is not empty; continue it with --resume ${runDir} or choose another --out`);
  }
  const session = await prepareSession(config, dataset);
  mkdirSync(runDir, { recursive: true });
  writeFileAtomic(join(runDir, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
  io.stream.write(`run directory: ${runDir}\n`);
  return runLoop(runDir, session, null, io);
}

/** far above any real config.json (a few KiB); a larger file is not read into memory */
const MAX_CONFIG_BYTES = 1 << 20;

export function readRunConfig(runDir: string): RunConfig {
  const path = join(runDir, CONFIG_FILE);
  if (!existsSync(path)) throw new RunConfigError(`${runDir} is not a Stitch run directory (no ${CONFIG_FILE})`);
  const size = statSync(path).size;
  if (size > MAX_CONFIG_BYTES) throw new RunConfigError(`${path}: ${size} bytes, too large for a run config (at most ${MAX_CONFIG_BYTES})`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new RunConfigError(`${path}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  return validateRunConfig(raw, path);
}

export interface ResumeOptions {
  /** the run's dataset, already loaded (as startRun takes it); its fingerprint must match the checkpoint's */
  dataset?: LoadedDataset;
  /** changes the run's onNonFinite (saved to config.json): the one setting that never changes an unfaulted run */
  onNonFinite?: NonFinitePolicy;
}

/** Continues a run from its newest checkpoint that verifies; logs are truncated back to its step. */
export async function resumeRun(runDir: string, io: TrainIO, options: ResumeOptions = {}): Promise<TrainOutcome> {
  const saved = readRunConfig(runDir);
  const config = options.onNonFinite === undefined ? saved : { ...saved, onNonFinite: options.onNonFinite };
  const session = await prepareSession(config, options.dataset);
  // what a process killed mid-write left behind; the files they were replacing are intact
  for (const dir of [runDir, join(runDir, CHECKPOINT_DIR)]) {
    for (const name of removeStaleTemporaries(dir)) io.stream.write(`removed an unfinished write: ${join(dir, name)}\n`);
  }
  const { checkpoint, skipped } = latestGoodCheckpoint(runDir);
  const { state } = checkpoint;
  for (const reason of skipped) io.stream.write(`skipping checkpoint: ${reason}\n`);
  if (state.algo !== config.algo) throw new CheckpointError(`${checkpoint.path}: a ${state.algo} checkpoint, but the run trains ${config.algo}`);
  if (state.datasetSha256 !== session.datasetSha256) throw new CheckpointError(`${checkpoint.path}: the dataset ${config.dataset} changed since this checkpoint was written`);
  if (state.step > config.steps) throw new CheckpointError(`${checkpoint.path}: step ${state.step} is beyond the run's ${config.steps} steps`);
  restoreAlgorithm(session.algorithm, checkpoint);
  try {
    session.algorithmRng.restore(state.rng.algorithm);
    session.samplerRng.restore(state.rng.sampler);
    session.sampler.restore(state.sampler);
  } catch (error) {
    throw new CheckpointError(`${checkpoint.path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  new RunLogs(runDir).truncateAfter(state.step);
  if (config.onNonFinite !== saved.onNonFinite) {
    writeFileAtomic(join(runDir, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
    io.stream.write(`onNonFinite: ${saved.onNonFinite} -> ${config.onNonFinite} (saved in ${CONFIG_FILE})\n`);
  }
  io.stream.write(`resuming ${runDir} at step ${state.step}/${config.steps}\n`);
  return runLoop(runDir, session, { state, checkpointPath: checkpoint.path }, io);
}
