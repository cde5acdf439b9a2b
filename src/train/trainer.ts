/**
 * The training loop every algorithm shares: sample → update → log, evaluate every N steps,
 * checkpoint every N steps, and at the end write eval.json and policy.safetensors. The report is
 * the caller's business (the CLI writes it after training returns), so training never imports it.
 *
 * Determinism: one Rng(seed) at the root is forked, in this order, into the algorithm's generator
 * (initialization, then dropout) and the sampler's. Evaluation builds its own generators from the
 * evaluation seed, so evaluating never moves the training streams. A resumed run restores both
 * streams in place, the sampler's epoch position, weights, optimizer moments and step counts and
 * the algorithm's extra state, so it computes exactly the losses of an uninterrupted run.
 *
 * One process writes a run directory at a time (lock.ts). Faults stop a run without losing more
 * than the steps since its last checkpoint: a failed write (a full disk) and, with onNonFinite
 * 'halt', a non-finite loss or gradient throw RunStoppedError naming that checkpoint; with 'skip'
 * the faulty batch is dropped, the update undone and counted. An interruption (the `signal`
 * option: SIGINT/SIGTERM in the CLI) writes a checkpoint at the current step and throws
 * RunInterruptedError.
 *
 * With `evalWorker`, an evaluation runs on a worker thread (background-evaluation.ts) from the
 * policy file's bytes of the weights it evaluates, while training goes on; the records are those
 * of an inline evaluation, and a checkpoint notes an evaluation still in flight so that a resume
 * redoes it.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { metricsNow, readMetrics, type Algorithm, type AnyAlgorithmDefinition, type DatasetPreparation, type PolicyContext, type StepMetrics } from '../algos/algorithm.js';
import { formatFinding } from '../data/findings.js';
import { policyFromBytes } from '../deploy/policy.js';
import { loadDataset, type LoadedDataset } from '../data/load.js';
import { stateStatistics, STD_EPSILON } from '../data/preprocess.js';
import { WindowSampler, type WindowBatch, type WindowSamplerOptions } from '../data/sampler.js';
import type { TrajectoryStore } from '../data/store.js';
import { backend, stageUploads } from '../engine/index.js';
import { Rng } from '../engine/rng.js';
import { ScalarBoards } from '../engine/scalar-board.js';
import { WebGpuDeviceLostError } from '../engine/backends/webgpu.js';
import { EvaluationAbortedError } from '../envs/evaluate.js';
import { camelCaseKeys } from '../util/json-keys.js';
import { FileWriteError, removeStaleTemporaries, writeFileAtomic } from '../util/atomic-file.js';
import {
  CheckpointError, latestGoodCheckpoint, listCheckpoints, optimizerStates, restoreAlgorithm, writeCheckpoint,
  CHECKPOINT_FORMAT_VERSION, type LoadedCheckpoint, type TrainingState,
} from './checkpoint.js';
import { BackgroundEvaluator, reserveEvaluationThread } from './background-evaluation.js';
import { checkAllocationBounds, parseAlgorithmConfig, requireAlgorithm, requireEnv, RunConfigError, validateRunConfig, type RunConfig } from './config.js';
import { evaluateConditions, isBetter, type EvaluationProgress, type EvaluationRecord } from './evaluate.js';
import { HeartbeatWriter } from './heartbeat.js';
import { acquireRunLock, type RunLock } from './lock.js';
import { RunLogs, type MetricsRecord } from './metrics.js';
import { describeBatch, NonFiniteError, TARGET_LIMIT, TARGET_LIMIT_TEXT, type NonFinitePolicy } from './nonfinite.js';
import { encodePolicyFile, policyFileStep, writePolicyFile, type PolicyFileContents } from './policy-file.js';
import { Progress, type ProgressStream } from './progress.js';
import { recordSession } from './provenance.js';
import { BEST_POLICY_FILE, CHECKPOINT_DIR, CONFIG_FILE, EVAL_FILE, LOCK_FILE, POLICY_FILE, readRunConfig } from './run-files.js';
import { algorithmSamplerOptions } from './sampling.js';
import { scheduleWarnings } from './schedules.js';
import { UpdateSnapshot } from './snapshot.js';
import { enterTrainingBackend, onHost, placeAlgorithm } from './residency.js';
import { settleFiniteChecks, takeDeferredChecks, type DeferredFiniteCheck } from '../nn/nonfinite.js';

// the run-file names and reader live in run-files.ts; re-exported for the public API
export { CONFIG_FILE, EVAL_FILE, POLICY_FILE, readRunConfig } from './run-files.js';
export const EVAL_FORMAT_VERSION = 1;

export const BEST_RULE = 'the evaluation with the highest headline normalized_score (mean_return where the task has no reference scores); ties go to the earlier step';

/** a dataset that keeps less than this share of its rows after segmentation is refused without allowDataLoss */
export const MIN_KEPT_ROW_SHARE = 0.5;

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
  /** keepBest: the best evaluation's weights (policy-best.safetensors); null otherwise */
  bestPolicyPath: string | null;
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
  constructor(readonly reason: 'non-finite' | 'write-failed' | 'device-lost', message: string) {
    super(message);
    this.name = 'RunStoppedError';
  }
}

/** The run was interrupted (its `signal` aborted); a checkpoint at `step` was written first. */
export class RunInterruptedError extends Error {
  constructor(readonly step: number, readonly checkpointPath: string, message: string) {
    super(message);
    this.name = 'RunInterruptedError';
  }
}

/** What both a new and a resumed run may be given besides their config. */
export interface SessionOptions {
  /** the run's dataset, already loaded; a resumed run's must match the checkpoint's fingerprint */
  dataset?: LoadedDataset;
  /** train on a dataset that keeps less than half its rows after segmentation (refused otherwise) */
  allowDataLoss?: boolean;
  /** aborting it interrupts the run: a checkpoint at the current step, then RunInterruptedError */
  signal?: AbortSignal;
}

export interface StartOptions extends SessionOptions {
  /** replace an existing run directory (one holding a config.json) instead of refusing it */
  overwrite?: boolean;
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
  trajectory: NonNullable<TrainingState['trajectory']>;
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

/** JSON with object keys sorted, so equal configs hash equally whatever order their keys were written in */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The run config's fields that change the training trajectory: the algorithm and its full config
 * (lr, batch size, dropout, widths, schedules, ...), the seed and the dataset id (it selects
 * sampling rules). Not the step budget (raising it on --resume continues the same trajectory:
 * every schedule is a function of the absolute step), nor evaluation, logging, checkpoint or
 * fault settings, which never change the weights. The dataset's contents have their own fingerprint.
 */
export function trajectoryFields(config: RunConfig): Record<string, unknown> {
  const { steps: _steps, ...algorithm } = config.algorithm;
  return { algo: config.algo, datasetId: config.datasetId, seed: config.seed, algorithm };
}

function trajectoryOf(config: RunConfig): Session['trajectory'] {
  const fields = trajectoryFields(config);
  return { sha256: createHash('sha256').update(canonicalJson(fields)).digest('hex'), fields };
}

/** the fields whose values differ between two trajectory records, as `name: saved -> now` */
function describeDifferences(saved: Record<string, unknown>, now: Record<string, unknown>, prefix = ''): string[] {
  const out: string[] = [];
  for (const key of [...new Set([...Object.keys(saved), ...Object.keys(now)])].sort()) {
    const a = saved[key];
    const b = now[key];
    if (canonicalJson(a) === canonicalJson(b)) continue;
    const nested = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
    if (nested(a) && nested(b)) out.push(...describeDifferences(a, b, `${prefix}${key}.`));
    else out.push(`${prefix}${key}: ${canonicalJson(a) ?? 'absent'} in the checkpoint, ${canonicalJson(b) ?? 'absent'} in the run`);
  }
  return out;
}

/** at most this many findings are printed at the start of a run; the rest are counted */
const PRINTED_FINDINGS = 20;

/**
 * What the data layer found, printed before training, and the refusal of a dataset that loses
 * most of its rows to segmentation (a one-step episode followed by rows that never end trains on
 * almost nothing).
 */
function reportDataset(loaded: LoadedDataset, stream: ProgressStream, allowDataLoss: boolean): void {
  const { findings, store, arrays } = loaded;
  for (const finding of findings.slice(0, PRINTED_FINDINGS)) stream.write(`data: ${formatFinding(finding)}\n`);
  if (findings.length > PRINTED_FINDINGS) stream.write(`data: and ${findings.length - PRINTED_FINDINGS} more findings (stitch data check ${loaded.file} lists them all)\n`);
  const rows = arrays.rewards.length;
  const kept = store.transitionCount;
  const summary = `${kept} of ${rows} rows in ${store.episodeCount} episodes`;
  if (rows > 0 && kept / rows < MIN_KEPT_ROW_SHARE) {
    const message = `${loaded.file}: training would use only ${summary} (${((100 * kept) / rows).toFixed(1)}%); the rest is dropped by the findings above`;
    if (!allowDataLoss) throw new RunConfigError(`${message}. Fix the dataset (stitch data check), or pass --allow-data-loss to train on what is kept`);
    stream.write(`warning: ${message} (--allow-data-loss)\n`);
  } else {
    stream.write(`data: training on ${summary}\n`);
  }
}

/** a constant observation dimension has std 0, so normalization divides by the epsilon alone: say so */
function reportConstantDimensions(std: Float32Array, epsilon: number, stream: ProgressStream): void {
  const constant: number[] = [];
  std.forEach((value, d) => {
    if (value <= epsilon * 1.5) constant.push(d);
  });
  if (constant.length === 0) return;
  const listed = constant.slice(0, 10).join(', ') + (constant.length > 10 ? `, and ${constant.length - 10} more` : '');
  stream.write(`data: observation dimension(s) ${listed} are constant in the dataset (std 0, normalized with std ${epsilon}); a policy sees 0 there unless evaluation states differ\n`);
}

/**
 * The raw training targets (rewards after the algorithm's transform, returns-to-go after its
 * return scale) checked before training: values beyond TARGET_LIMIT overflow float32 once squared
 * or summed. An algorithm whose loss divides by the batch's magnitude (Reinformer's return loss)
 * would hide them, so every batch is checked again after its update (batchTargetsOverflow).
 */
function reportTargets(options: WindowSamplerOptions, store: TrajectoryStore, stream: ProgressStream): void {
  const episodes = new Set<number>();
  const columns: Array<[string, Float32Array | undefined]> = [['returns-to-go', options.returnsToGo], ['rewards', options.rewards]];
  const bad: string[] = [];
  for (const [name, values] of columns) {
    if (values === undefined) continue;
    let count = 0;
    let episode = 0;
    for (let i = 0; i < values.length; i++) {
      const value = values[i]!;
      if (Number.isFinite(value) && Math.abs(value) <= TARGET_LIMIT) continue;
      count += 1;
      while (store.episodeStarts[episode + 1]! <= i) episode += 1;
      episodes.add(episode);
    }
    if (count > 0) bad.push(`${count} ${name}`);
  }
  if (bad.length === 0) return;
  const listed = [...episodes].slice(0, 10).join(', ') + (episodes.size > 10 ? `, and ${episodes.size - 10} more` : '');
  stream.write(`warning: ${bad.join(' and ')} are non-finite or beyond ±${TARGET_LIMIT_TEXT} after scaling (episodes ${listed}); they overflow float32 in any loss, so every batch holding them stops the run (--on-nonfinite halt) or is skipped (skip)\n`);
}

/** the batch's training targets hold a value beyond TARGET_LIMIT (or a non-finite one), which no finite loss should have come from */
function batchTargetsOverflow(batch: WindowBatch): boolean {
  for (const values of [batch.returnsToGo, batch.rewards]) {
    for (let i = 0; i < values.length; i++) {
      const value = values[i]!;
      if (!(Math.abs(value) <= TARGET_LIMIT)) return true;
    }
  }
  return false;
}

/** the arrays of a sampled batch that the models read (staged as one upload on a device) */
function batchArrays(batch: WindowBatch): (Float32Array | Int32Array)[] {
  return [batch.states, batch.actions, batch.rewards, batch.returnsToGo, batch.mask, batch.terminated, batch.timesteps];
}

async function prepareSession(config: RunConfig, io: TrainIO, options: SessionOptions): Promise<Session> {
  const definition = requireAlgorithm(config.algo);
  const spec = requireEnv(config.env);
  const algorithmConfig = parseAlgorithmConfig(definition, config.algorithm);
  checkAllocationBounds(algorithmConfig, `invalid ${definition.name} config`);
  if (algorithmConfig.steps !== config.steps) throw new RunConfigError(`config: algorithm.steps (${algorithmConfig.steps}) differs from steps (${config.steps})`);
  const loaded = options.dataset ?? await loadDataset(config.dataset);
  const { store } = loaded;
  if (store.obsDim !== spec.obsDim || store.actionDim !== spec.actionDim) {
    throw new RunConfigError(`${config.dataset}: observations ${store.obsDim}-d and actions ${store.actionDim}-d, but ${spec.id} has ${spec.obsDim}-d observations and ${spec.actionDim}-d actions`);
  }
  reportDataset(loaded, io.stream, options.allowDataLoss ?? false);
  for (const warning of scheduleWarnings(config.algorithm, config.steps)) io.stream.write(`warning: ${warning}\n`);
  const statistics = stateStatistics(store);
  reportConstantDimensions(statistics.std, STD_EPSILON, io.stream);
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
    const samplerOptions: WindowSamplerOptions = {
      ...algorithmSamplerOptions(definition, algorithmConfig, config.datasetId, store, statistics),
      ...(preparation?.samplerEpisodeWeights === undefined ? {} : { episodeWeights: preparation.samplerEpisodeWeights }),
    };
    reportTargets(samplerOptions, store, io.stream);
    sampler = new WindowSampler(store, samplerOptions, samplerRng);
  } catch (error) {
    if (error instanceof RangeError) throw new RunConfigError(`${config.dataset}: ${error.message}`);
    throw error;
  }
  return {
    config, definition, algorithmConfig, context, algorithm, sampler, algorithmRng, samplerRng,
    datasetSha256: fingerprint(store), trajectory: trajectoryOf(config), preparationMetadata: preparation?.metadata ?? null,
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

/** how often the loop yields to the event loop, so an interrupt signal and the heartbeat are seen mid-training */
const YIELD_MS = 50;

async function runLoop(runDir: string, session: Session, resumed: Resumed | null, io: TrainIO, signal: AbortSignal | undefined, kind: 'start' | 'resume'): Promise<TrainOutcome> {
  const release = session.config.evalWorker ? reserveEvaluationThread() : null;
  recordSession(runDir, kind, resumed?.state.step ?? 0);
  const leave = enterTrainingBackend(session.algorithm);
  try {
    return await runSteps(runDir, session, resumed, io, signal);
  } finally {
    await leave();
    release?.();
  }
}

async function runSteps(runDir: string, session: Session, resumed: Resumed | null, io: TrainIO, signal: AbortSignal | undefined): Promise<TrainOutcome> {
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
  const heartbeat = new HeartbeatWriter(runDir, config.steps);
  const evaluationSettings = { env: config.env, episodes: config.evalEpisodes, seed: config.evalSeed, numEnvs: config.evalEnvs };
  let skippedBatches = resumed?.state.skippedBatches ?? 0;
  let lastCheckpoint = resumed?.checkpointPath ?? null;
  let checkpointStep = resumed?.state.step ?? -1;
  // only 'skip' continues after a fault, so only it pays for a copy of the state before each update
  // on a device the update of a faulty batch is refused there (the optimizers' guard), so no snapshot is needed
  const resident = backend().resident;
  const snapshot = config.onNonFinite === 'skip' && !resident ? new UpdateSnapshot(algorithm) : null;
  const closeInterval = (at: number = step): MetricsRecord => {
    const record = interval.close(at, elapsed());
    if (config.onNonFinite === 'skip') record.skipped_batches = skippedBatches;
    return record;
  };
  const resumeHint = `stitch train --resume ${runDir}`;
  const stopped = (reason: RunStoppedError['reason'], what: string): RunStoppedError => {
    const checkpoint = lastCheckpoint === null
      ? `no checkpoint was written yet; ${resumeHint} starts it again from step 0`
      : `the last good checkpoint is ${relative(runDir, lastCheckpoint)} (continue with ${resumeHint}${reason === 'non-finite' ? ', adding --on-nonfinite skip to skip such batches' : ''})`;
    return new RunStoppedError(reason, `${what}; the run stopped at step ${step}/${config.steps}; ${checkpoint}`);
  };
  const checkpoint = (): Promise<void> => onHost(algorithm, () => {
    // the logs up to this step reach the disk before the checkpoint that vouches for them
    logs.sync();
    // an evaluation still in flight of earlier weights than the checkpoint's: a resume evaluates them from this file
    if (inFlight !== null && inFlight.step < step) {
      mkdirSync(join(runDir, CHECKPOINT_DIR), { recursive: true });
      writeFileAtomic(join(runDir, CHECKPOINT_DIR, pendingEvaluationName(inFlight.step)), inFlight.bytes);
    }
    lastCheckpoint = writeCheckpoint(runDir, {
      format: 'stitch-checkpoint',
      formatVersion: CHECKPOINT_FORMAT_VERSION,
      algo: config.algo,
      step,
      datasetSha256: session.datasetSha256,
      trajectory: session.trajectory,
      elapsedSeconds: elapsed(),
      rng: { algorithm: session.algorithmRng.state(), sampler: session.samplerRng.state() },
      sampler: sampler.state(),
      optimizers: optimizerStates(algorithm),
      extraState: algorithm.extraState?.() ?? {},
      metrics: interval.snapshot(),
      evaluation: { last, best, pending: inFlight?.step ?? null },
      skippedBatches,
    }, algorithm);
    checkpointStep = step;
    // the checkpoint now vouches for the current best: earlier best weights can no longer be resumed into
    if (config.keepBest) pruneBestPolicies(runDir, best?.step ?? null);
    prunePendingEvaluations(runDir, inFlight?.step ?? null);
  });
  const interrupted = async (): Promise<RunInterruptedError> => {
    // the evaluation in progress (if any) is redone on resume: evaluating never moves the training streams
    algorithm.setTraining(true);
    await settlePending();
    // an evaluation in flight is dropped; the checkpoint keeps its weights, and a resume evaluates them first
    await evaluator?.terminate();
    if (checkpointStep !== step) await checkpoint();
    progress.message(`interrupted at step ${step}/${config.steps}; checkpoint ${relative(runDir, lastCheckpoint as string)} written; continue with ${resumeHint}`);
    heartbeat.beat('interrupted', step, null, true);
    return new RunInterruptedError(step, lastCheckpoint as string, `interrupted at step ${step}/${config.steps}; continue with ${resumeHint}`);
  };
  const isEvaluationStep = (at: number): boolean => (config.evalEvery > 0 && at % config.evalEvery === 0) || at === config.steps;
  const evaluationProgress = (at: number, state: EvaluationProgress): void => {
    progress.evaluation(at, state);
    const { condition: _condition, ...shown } = state;
    heartbeat.beat('eval', at, shown);
  };
  /** an evaluation's record joins the run's; `keep` writes the evaluated weights when it is the best so far */
  const recordEvaluation = (record: EvaluationRecord, keep: (path: string) => void): void => {
    if (isBetter(record, best)) {
      best = record;
      if (config.keepBest) {
        mkdirSync(join(runDir, CHECKPOINT_DIR), { recursive: true });
        keep(join(runDir, CHECKPOINT_DIR, bestPolicyName(record.step)));
      }
    }
    logs.appendEvaluation(record);
    last = record;
    progress.message(formatEvaluation(record));
  };
  const evaluateInline = async (): Promise<void> => {
    algorithm.setTraining(false);
    heartbeat.beat('eval', step, { episodesDone: 0, episodesTotal: config.evalEpisodes * algorithm.evaluationConditions().length, meanReturnSoFar: null, etaSeconds: null });
    const record = await evaluateConditions(step, algorithm.evaluationConditions(), (n, condition, rng) => algorithm.createPolicy(n, condition, rng), evaluationSettings, {
      onProgress: (at) => evaluationProgress(step, at),
      ...(signal === undefined ? {} : { signal }),
    });
    // the weights as evaluated (still in evaluation mode)
    recordEvaluation(record, (path) => writePolicyAt(path, session, step));
    algorithm.setTraining(true);
    heartbeat.beat('train', step, null, true);
  };

  // evalWorker: one evaluation at a time runs on a worker thread, of a snapshot of the weights (the policy file's bytes)
  let waitingForEvaluation = false;
  const evaluator = config.evalWorker
    ? new BackgroundEvaluator((at, state) => {
      if (waitingForEvaluation) evaluationProgress(at, state);
    })
    : null;
  let inFlight: { step: number; bytes: Uint8Array; record: EvaluationRecord | null; promise: Promise<EvaluationRecord> } | null = null;
  /** starts the evaluation of `bytes` (the weights after `at` steps), after the one in flight is recorded */
  const startEvaluation = async (at: number, bytes: Uint8Array): Promise<void> => {
    await settleEvaluation();
    if (evaluator === null) {
      // a resumed run's pending evaluation, when this run evaluates inline
      const policy = policyFromBytes(bytes, {}, `the weights of step ${at}`);
      const record = await evaluateConditions(at, policy.conditions, (n, condition, rng) => policy.createVectorPolicy(n, condition, rng), evaluationSettings, {
        onProgress: (state) => evaluationProgress(at, state),
        ...(signal === undefined ? {} : { signal }),
      });
      recordEvaluation(record, (path) => writeFileAtomic(path, bytes));
      return;
    }
    const running: NonNullable<typeof inFlight> = { step: at, bytes, record: null, promise: evaluator.evaluate(at, bytes, evaluationSettings, signal) };
    // a failure is seen when the evaluation is settled; until then it must not count as unhandled
    running.promise.then((record) => { running.record = record; }, () => undefined);
    inFlight = running;
  };
  const evaluationFinished = (): boolean => inFlight !== null && inFlight.record !== null;
  /** waits for the evaluation in flight (if any) and records it */
  const settleEvaluation = async (): Promise<void> => {
    const running = inFlight;
    if (running === null) return;
    waitingForEvaluation = running.record === null;
    let record: EvaluationRecord;
    try {
      record = await running.promise;
    } finally {
      waitingForEvaluation = false;
    }
    inFlight = null;
    recordEvaluation(record, (path) => writeFileAtomic(path, running.bytes));
    heartbeat.beat('train', step, null, true);
  };
  const evaluate = async (): Promise<void> => {
    if (evaluator === null) return onHost(algorithm, evaluateInline);
    const bytes = await onHost(algorithm, () => policyBytesAt(session, step));
    algorithm.setTraining(true);
    await startEvaluation(step, bytes);
    // the last step's evaluation is part of the run's end: wait for it
    if (step === config.steps) await settleEvaluation();
  };
  algorithm.setTraining(true);
  heartbeat.beat('train', step, null, true);
  let lastYield = performance.now();

  /** what the trainer does with one step's logged values (on a device: while the next step runs) */
  const recordStep = (at: number, scalars: Record<string, number> | null, seconds: number): void => {
    if (scalars !== null) interval.add(scalars, seconds);
    if (at % config.logEvery === 0 || at === config.steps) logs.appendMetrics(closeInterval(at));
    if (scalars !== null) {
      const [lossName, loss] = headlineLoss(scalars);
      progress.update(at, lossName, loss);
    }
  };
  /** a fault in the update of step `at` (1-based): stop the run, or count the skipped batch */
  const fault = (at: number, error: NonFiniteError, batch: WindowBatch, restored: boolean): void => {
    const where = `step ${at}: ${error.message}; batch ${at} (${describeBatch(batch)})`;
    if (config.onNonFinite !== 'skip' || !restored) {
      heartbeat.beat('halted', step, null, true);
      throw stopped('non-finite', `${where}; ${error.kind === 'weights' ? 'the changed weights were not saved' : 'the update was stopped before it changed the weights'}`);
    }
    skippedBatches += 1;
    progress.message(`skipped batch: ${where}; the weights are unchanged (${skippedBatches} skipped so far)`);
  };
  /** a device step whose values are still on the GPU */
  let pending: { at: number; metrics: StepMetrics; checks: DeferredFiniteCheck[]; batch: WindowBatch; seconds: number } | null = null;
  /** reads the pending step's values (one read: its scalar board) and records them */
  const settlePending = async (): Promise<void> => {
    if (pending === null) return;
    const { at, metrics, checks, batch, seconds } = pending;
    pending = null;
    let scalars: Record<string, number> | null;
    try {
      await settleFiniteChecks(checks);
      scalars = await readMetrics(metrics);
    } catch (error) {
      if (!(error instanceof NonFiniteError)) throw error;
      // the device refused the loss's or gradient's update (the optimizers' guard); weights it overflowed cannot be restored
      fault(at, error, batch, error.kind !== 'weights');
      scalars = null;
    }
    recordStep(at, scalars, seconds);
  };
  const boards = new ScalarBoards();

  try {
    // before the first step: the training's thread count (and so its rounding) is the same throughout
    await evaluator?.start();
    placeAlgorithm(algorithm);
    // an evaluation of earlier weights than the checkpoint's was in flight (evalWorker): evaluate its kept weights first
    const pendingEvaluation = resumed?.state.evaluation.pending ?? null;
    if (pendingEvaluation !== null && pendingEvaluation < step) {
      const bytes = readPendingEvaluation(runDir, pendingEvaluation);
      if (bytes === null) progress.message(`the evaluation of step ${pendingEvaluation} was in flight at the checkpoint, but its weights (${CHECKPOINT_DIR}/${pendingEvaluationName(pendingEvaluation)}) are missing or damaged: that evaluation is skipped`);
      else await startEvaluation(pendingEvaluation, bytes);
    }
    // a run interrupted during an evaluation was checkpointed before it: evaluate that step first
    if (resumed !== null && step > 0 && isEvaluationStep(step) && (last === null || last.step < step)) await evaluate();
    while (step < config.steps) {
      if (performance.now() - lastYield > YIELD_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
      if (signal?.aborted === true) throw await interrupted();
      if (evaluationFinished()) await settleEvaluation();
      const started = performance.now();
      const batch = sampler.sample();
      snapshot?.capture();
      boards.next();
      let metrics: StepMetrics | null = null;
      // on a device the sampled batch goes up in one transfer; the CPU backends read it in place
      const unstage = stageUploads(batchArrays(batch));
      try {
        metrics = algorithm.update(batch, step);
        // a finite loss from targets that overflow float32 (a loss normalized by the batch's own magnitude hides them)
        if (batchTargetsOverflow(batch)) {
          throw new NonFiniteError('targets', 'weights', `the loss stayed finite, but the batch's training targets (returns-to-go or rewards after scaling) are non-finite or beyond ±${TARGET_LIMIT_TEXT}`);
        }
      } catch (error) {
        if (!(error instanceof NonFiniteError)) throw error;
        metrics = null;
        if (snapshot !== null) snapshot.restore();
        fault(step + 1, error, batch, snapshot !== null);
      } finally {
        unstage();
      }
      const checks = takeDeferredChecks();
      step += 1;
      if (resident && metrics !== null) {
        // the previous step's values are done by now: read them while this step runs (its time
        // includes that wait, so steps_per_s measures the device's throughput, not the queueing)
        await settlePending();
        pending = { at: step, metrics, checks, batch, seconds: (performance.now() - started) / 1000 };
      } else {
        recordStep(step, metrics === null ? null : metricsNow(metrics), (performance.now() - started) / 1000);
      }
      heartbeat.beat('train', step);

      const evaluating = isEvaluationStep(step);
      const checkpointing = (config.checkpointEvery > 0 && step % config.checkpointEvery === 0) || step === config.steps;
      if (evaluating || checkpointing) await settlePending();
      if (evaluating) await evaluate();
      if (checkpointing) await checkpoint();
    }
    await settlePending();
    await settleEvaluation();
    progress.finish();
    if (last === null || best === null) throw new Error('the last step is always evaluated; no evaluation was recorded');
    const outcome = await onHost(algorithm, () => writeFinalFiles(runDir, session, step, last!, best!, skippedBatches));
    if (config.keepBest && outcome.bestPolicyPath === null) {
      progress.message(`no ${BEST_POLICY_FILE}: the weights of the best evaluation (step ${best.step}) were not kept through the checkpoint this run resumed from`);
    }
    prunePendingEvaluations(runDir, null);
    heartbeat.beat('finished', step, null, true);
    return outcome;
  } catch (error) {
    if (error instanceof EvaluationAbortedError) throw await interrupted();
    if (error instanceof FileWriteError) {
      heartbeat.beat('halted', step, null, true);
      throw stopped('write-failed', error.message);
    }
    if (error instanceof WebGpuDeviceLostError) {
      // nothing more can be read from the device: the last checkpoint on disk is the state to continue from
      heartbeat.beat('halted', step, null, true);
      throw stopped('device-lost', `${error.message}; --resume continues on any backend`);
    }
    throw error;
  } finally {
    await evaluator?.terminate();
  }
}

/** policy.safetensors and eval.json, after the last step (its checkpoint is already written) */
function writeFinalFiles(runDir: string, session: Session, step: number, last: EvaluationRecord, best: EvaluationRecord, skippedBatches: number): TrainOutcome {
  const { config } = session;
  const policyPath = join(runDir, POLICY_FILE);
  writePolicyAt(policyPath, session, step);
  const bestPolicyPath = config.keepBest ? keepBestPolicy(runDir, best.step) : null;
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
    best_policy: bestPolicyPath === null ? null : BEST_POLICY_FILE,
    skipped_batches: skippedBatches,
    dataset_preparation: session.preparationMetadata,
  }), null, 2)}\n`);
  return { runDir, evalPath, policyPath, bestPolicyPath, last, best, skippedBatches };
}

function policyContents(session: Session, step: number): PolicyFileContents {
  const { config, algorithm } = session;
  algorithm.setTraining(false);
  return {
    definition: session.definition, config: session.algorithmConfig, context: session.context, algorithm,
    datasetId: config.datasetId, envId: config.env, step,
  };
}

/** the policy file of the weights as they are now (evaluation mode) */
function writePolicyAt(path: string, session: Session, step: number): void {
  writePolicyFile(path, policyContents(session, step));
}

/** the policy file's bytes of the weights as they are now (evaluation mode) */
function policyBytesAt(session: Session, step: number): Uint8Array {
  return encodePolicyFile(policyContents(session, step));
}

/**
 * Policy files kept in checkpoints/ until the run needs them no more, named by kind and step:
 * `best-policy-N` (keepBest: the weights of the best evaluation at step N, until the run ends) and
 * `pending-evaluation-N` (evalWorker: the weights of an evaluation in flight when a checkpoint of
 * later weights was written, until an evaluation of them is recorded).
 */
type KeptPolicy = 'best-policy' | 'pending-evaluation';
function keptPolicyName(kind: KeptPolicy, step: number): string {
  return `${kind}-${String(step).padStart(8, '0')}.safetensors`;
}
const bestPolicyName = (step: number): string => keptPolicyName('best-policy', step);
const pendingEvaluationName = (step: number): string => keptPolicyName('pending-evaluation', step);

/** removes the kept policy files of one kind for every step but `keep` */
function pruneKeptPolicies(runDir: string, kind: KeptPolicy, keep: number | null): void {
  const dir = join(runDir, CHECKPOINT_DIR);
  if (!existsSync(dir)) return;
  const pattern = new RegExp(`^${kind}-(\\d{8,})\\.safetensors$`);
  for (const name of readdirSync(dir)) {
    const match = pattern.exec(name);
    if (match !== null && Number(match[1]) !== keep) rmSync(join(dir, name), { force: true });
  }
}
const pruneBestPolicies = (runDir: string, keep: number | null): void => pruneKeptPolicies(runDir, 'best-policy', keep);
const prunePendingEvaluations = (runDir: string, keep: number | null): void => pruneKeptPolicies(runDir, 'pending-evaluation', keep);

/** the kept weights of a pending evaluation, or null when missing or not the weights of that step */
function readPendingEvaluation(runDir: string, pending: number): Uint8Array | null {
  const path = join(runDir, CHECKPOINT_DIR, pendingEvaluationName(pending));
  if (!existsSync(path) || policyFileStep(path) !== pending) return null;
  return new Uint8Array(readFileSync(path));
}

/**
 * policy-best.safetensors from the weights kept when the best evaluation was made, or the file a
 * previous end of this run already made of them (a finished run resumed, with or without more
 * steps). Neither exists only when a resume had to fall back past a damaged checkpoint to one whose
 * best was pruned: then the run says so rather than keep other weights under the name.
 */
function keepBestPolicy(runDir: string, bestStep: number): string | null {
  const kept = join(runDir, CHECKPOINT_DIR, bestPolicyName(bestStep));
  const path = join(runDir, BEST_POLICY_FILE);
  if (existsSync(kept)) {
    renameSync(kept, path);
  } else if (!existsSync(path) || policyFileStep(path) !== bestStep) {
    rmSync(path, { force: true });
    return null;
  }
  pruneBestPolicies(runDir, null);
  return path;
}

/** runs `work` holding the run directory's lock, released however it ends */
async function withLock<T>(lock: RunLock, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } finally {
    lock.release();
  }
}

/**
 * A new run in `runDir`, which must not exist or be empty; with `overwrite`, an existing run
 * directory (one holding a config.json, not locked by a live process) is emptied first.
 */
export async function startRun(runDir: string, config: RunConfig, io: TrainIO, dataset?: LoadedDataset, options: StartOptions = {}): Promise<TrainOutcome> {
  const existing = existsSync(runDir) ? readdirSync(runDir).filter((name) => name !== LOCK_FILE) : [];
  if (existing.length > 0 && options.overwrite !== true) {
    throw new RunConfigError(`${runDir} already exists and is not empty; continue it with --resume ${runDir}, replace it with --overwrite, or choose another --out`);
  }
  if (existing.length > 0 && !existing.includes(CONFIG_FILE)) {
    throw new RunConfigError(`${runDir} is not a Stitch run directory (no ${CONFIG_FILE}); --overwrite only replaces runs`);
  }
  const session = await prepareSession(config, io, { ...options, ...(dataset === undefined ? {} : { dataset }) });
  mkdirSync(runDir, { recursive: true });
  const lock = acquireRunLock(runDir);
  return withLock(lock, async () => {
    if (existing.length > 0) {
      for (const name of readdirSync(runDir)) if (name !== LOCK_FILE) rmSync(join(runDir, name), { recursive: true, force: true });
      io.stream.write(`--overwrite: removed the previous run in ${runDir}\n`);
    }
    writeFileAtomic(join(runDir, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
    io.stream.write(`run directory: ${runDir}\n`);
    return runLoop(runDir, session, null, io, options.signal, 'start');
  });
}

export interface ResumeOptions extends SessionOptions {
  /** changes the run's onNonFinite (saved to config.json): the one setting that never changes an unfaulted run */
  onNonFinite?: NonFinitePolicy;
  /**
   * a new step budget, at least the run's current one (saved to config.json); the run continues
   * the same trajectory, since every schedule is a function of the absolute step (docs/run-format.md)
   */
  steps?: number;
}

function verifyCheckpoint(checkpoint: LoadedCheckpoint, session: Session): void {
  const { state, path } = checkpoint;
  const { config } = session;
  if (state.algo !== config.algo) throw new CheckpointError(`${path}: a ${state.algo} checkpoint, but the run trains ${config.algo}`);
  if (state.datasetSha256 !== session.datasetSha256) throw new CheckpointError(`${path}: the dataset ${config.dataset} changed since this checkpoint was written`);
  if (state.trajectory !== undefined && state.trajectory.sha256 !== session.trajectory.sha256) {
    const differences = describeDifferences(state.trajectory.fields, session.trajectory.fields);
    throw new CheckpointError(`${path}: written under another config (${differences.slice(0, 5).join('; ') || 'the config fingerprint differs'}); a checkpoint only continues the run that wrote it`);
  }
  if (state.step > config.steps) throw new CheckpointError(`${path}: step ${state.step} is beyond the run's ${config.steps} steps`);
}

/**
 * Continues a run from its newest checkpoint that verifies; logs are truncated back to its step.
 * A run with no checkpoint at all (stopped before its first) starts again from step 0 with its saved config.
 */
export async function resumeRun(runDir: string, io: TrainIO, options: ResumeOptions = {}): Promise<TrainOutcome> {
  const saved = readRunConfig(runDir);
  if (options.steps !== undefined && options.steps < saved.steps) {
    throw new RunConfigError(`--steps ${options.steps} is below the run's budget of ${saved.steps}; resuming can only raise it`);
  }
  const config: RunConfig = validateRunConfig({
    ...saved,
    ...(options.onNonFinite === undefined ? {} : { onNonFinite: options.onNonFinite }),
    ...(options.steps === undefined ? {} : { steps: options.steps, algorithm: { ...saved.algorithm, steps: options.steps } }),
  }, join(runDir, CONFIG_FILE));
  const lock = acquireRunLock(runDir);
  return withLock(lock, async () => {
    if (lock.replaced !== null) io.stream.write(`took over the lock of process ${lock.replaced.pid}, which is gone\n`);
    const session = await prepareSession(config, io, options);
    // what a process killed mid-write left behind; the files they were replacing are intact
    for (const dir of [runDir, join(runDir, CHECKPOINT_DIR)]) {
      for (const name of removeStaleTemporaries(dir)) io.stream.write(`removed an unfinished write: ${join(dir, name)}\n`);
    }
    let resumed: Resumed | null = null;
    if (listCheckpoints(runDir).length === 0) {
      io.stream.write(`${runDir} has no checkpoint (it stopped before its first); starting it again from step 0 with its saved config\n`);
      new RunLogs(runDir).truncateAfter(0);
    } else {
      const { checkpoint, skipped } = latestGoodCheckpoint(runDir);
      const { state } = checkpoint;
      for (const reason of skipped) io.stream.write(`skipping checkpoint: ${reason}\n`);
      verifyCheckpoint(checkpoint, session);
      restoreAlgorithm(session.algorithm, checkpoint);
      try {
        session.algorithmRng.restore(state.rng.algorithm);
        session.samplerRng.restore(state.rng.sampler);
        session.sampler.restore(state.sampler);
      } catch (error) {
        throw new CheckpointError(`${checkpoint.path}: ${error instanceof Error ? error.message : String(error)}`);
      }
      new RunLogs(runDir).truncateAfter(state.step, state.evaluation.pending);
      resumed = { state, checkpointPath: checkpoint.path };
    }
    const changes: string[] = [];
    if (config.onNonFinite !== saved.onNonFinite) changes.push(`onNonFinite: ${saved.onNonFinite} -> ${config.onNonFinite}`);
    if (config.steps !== saved.steps) changes.push(`steps: ${saved.steps} -> ${config.steps}`);
    if (changes.length > 0) {
      writeFileAtomic(join(runDir, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
      io.stream.write(`${changes.join(', ')} (saved in ${CONFIG_FILE})\n`);
    }
    const fromStep = resumed?.state.step ?? 0;
    io.stream.write(`resuming ${runDir} at step ${fromStep}/${config.steps}\n`);
    return runLoop(runDir, session, resumed, io, options.signal, 'resume');
  });
}
