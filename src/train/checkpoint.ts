/**
 * Training checkpoints: one safetensors file per checkpoint, `checkpoints/step-<8 digits>.safetensors`,
 * holding every module's parameters (`module.<name>.<parameter>`), every optimiser's moments
 * (`optimizer.<name>.state.<parameter>.exp_avg|exp_avg_sq`), and in its metadata the rest of the
 * training state as JSON (step, RNG states, sampler state, optimiser step counts and learning
 * rates, the algorithm's extra state, the open metrics interval, the last and best evaluations)
 * with a SHA-256 checksum over that JSON and every tensor. Files are written atomically; the
 * newest two are kept, so a checkpoint that fails its checksum falls back to the one before.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Algorithm } from '../algos/algorithm.js';
import { loadModuleTensors, loadOptimizerTensors, optimizerTensors, readSafetensors } from '../nn/checkpoint.js';
import { encodeSafetensors, type SafetensorsFile, type StoredTensor } from '../nn/safetensors.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { describeIssues } from './config.js';
import type { EvaluationRecord } from './evaluate.js';
import { prefixedTensors } from './policy-file.js';
import { CHECKPOINT_DIR } from './run-files.js';

export const CHECKPOINT_FORMAT_VERSION = 1;
export { CHECKPOINT_DIR } from './run-files.js';
/** the newest checkpoint and the one before it */
export const KEPT_CHECKPOINTS = 2;
const STATE_KEY = 'stitch-checkpoint';
const CHECKSUM_KEY = 'sha256';
const FILE_PATTERN = /^step-(\d{8,})\.safetensors$/;

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

const rngState = z.array(z.number()).length(6);
// evaluation records are written by this code and checked loosely: their shape is the evaluation's business
const evaluationRecord = z.custom<EvaluationRecord>((value) => typeof value === 'object' && value !== null && typeof (value as { step?: unknown }).step === 'number');

export const TrainingStateSchema = z.object({
  format: z.literal('stitch-checkpoint'),
  formatVersion: z.literal(CHECKPOINT_FORMAT_VERSION),
  algo: z.string(),
  /** training steps completed */
  step: z.number().int().min(0),
  /** of the store's arrays: resuming on other data is refused */
  datasetSha256: z.string(),
  /**
   * the fields of the run config that change the training trajectory (trainer.ts's
   * trajectoryFields) and their SHA-256: resuming under another config is refused. Absent in
   * checkpoints written before it existed.
   */
  trajectory: z.object({ sha256: z.string(), fields: z.record(z.string(), z.unknown()) }).strict().optional(),
  /** wall-clock seconds of the run so far, over every session */
  elapsedSeconds: z.number().min(0),
  rng: z.object({ algorithm: rngState, sampler: rngState }).strict(),
  sampler: z.object({ epochPosition: z.number().int(), epochOrder: z.array(z.number().int()) }).strict(),
  optimizers: z.record(z.string(), z.object({ optimizer: z.string(), step: z.number().int().min(0), lr: z.number() }).strict()),
  extraState: z.record(z.string(), z.number()),
  /** the metrics interval still open at this step (empty when the step was logged) */
  metrics: z.object({ count: z.number().int().min(0), seconds: z.number().min(0), sums: z.record(z.string(), z.number()), latest: z.record(z.string(), z.number()) }).strict(),
  /** pending (evalWorker): the step of an evaluation in flight, null when none; absent in older checkpoints */
  evaluation: z.object({ last: evaluationRecord.nullable(), best: evaluationRecord.nullable(), pending: z.number().int().min(0).nullable().default(null) }).strict(),
  /** batches skipped so far for a non-finite loss or gradient (onNonFinite 'skip'); absent in older checkpoints */
  skippedBatches: z.number().int().min(0).default(0),
}).strict();

export type TrainingState = z.infer<typeof TrainingStateSchema>;

export interface CheckpointEntry {
  step: number;
  path: string;
}

function checksum(stateText: string, tensors: ReadonlyMap<string, StoredTensor>): string {
  const hash = createHash('sha256');
  hash.update(stateText);
  for (const name of [...tensors.keys()].sort()) {
    const tensor = tensors.get(name) as StoredTensor;
    hash.update(`\n${name}:${tensor.dtype}:${tensor.shape.join('x')}\n`);
    hash.update(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
  }
  return hash.digest('hex');
}

export function checkpointPath(runDir: string, step: number): string {
  return join(runDir, CHECKPOINT_DIR, `step-${String(step).padStart(8, '0')}.safetensors`);
}

/** checkpoint files of a run, newest first */
export function listCheckpoints(runDir: string): CheckpointEntry[] {
  const dir = join(runDir, CHECKPOINT_DIR);
  if (!existsSync(dir)) return [];
  const entries: CheckpointEntry[] = [];
  for (const name of readdirSync(dir)) {
    const match = FILE_PATTERN.exec(name);
    if (match !== null) entries.push({ step: Number(match[1]), path: join(dir, name) });
  }
  return entries.sort((a, b) => b.step - a.step);
}

/** Writes the checkpoint atomically, then removes all but the newest KEPT_CHECKPOINTS. */
export function writeCheckpoint(runDir: string, state: TrainingState, algorithm: Algorithm): string {
  const tensors = new Map<string, StoredTensor>();
  for (const [key, tensor] of prefixedTensors(algorithm.modules())) tensors.set(`module.${key}`, tensor);
  for (const [name, { optimizer, names }] of Object.entries(algorithm.optimizers())) {
    for (const [key, tensor] of optimizerTensors(optimizer, names).tensors) tensors.set(`optimizer.${name}.${key}`, tensor);
  }
  const stateText = JSON.stringify(state);
  const path = checkpointPath(runDir, state.step);
  mkdirSync(join(runDir, CHECKPOINT_DIR), { recursive: true });
  writeFileAtomic(path, encodeSafetensors(tensors, { [STATE_KEY]: stateText, [CHECKSUM_KEY]: checksum(stateText, tensors) }));
  for (const stale of listCheckpoints(runDir).slice(KEPT_CHECKPOINTS)) rmSync(stale.path, { force: true });
  return path;
}

export interface LoadedCheckpoint {
  state: TrainingState;
  tensors: Map<string, StoredTensor>;
  path: string;
}

/** Reads and verifies one checkpoint file (checksum, format version, state schema). */
export function readCheckpoint(path: string): LoadedCheckpoint {
  let file: SafetensorsFile;
  try {
    file = readSafetensors(path);
  } catch (error) {
    throw new CheckpointError(error instanceof Error ? error.message : String(error));
  }
  const stateText = file.metadata[STATE_KEY];
  const recorded = file.metadata[CHECKSUM_KEY];
  if (stateText === undefined || recorded === undefined) throw new CheckpointError(`${path}: not a Stitch checkpoint (no training state or checksum)`);
  if (checksum(stateText, file.tensors) !== recorded) throw new CheckpointError(`${path}: checksum mismatch; the file is corrupt`);
  let raw: unknown;
  try {
    raw = JSON.parse(stateText);
  } catch {
    throw new CheckpointError(`${path}: the training state is not valid JSON`);
  }
  const version = (raw as { formatVersion?: unknown } | null)?.formatVersion;
  if (version !== CHECKPOINT_FORMAT_VERSION) throw new CheckpointError(`${path}: checkpoint format version ${String(version)}; this Stitch reads version ${CHECKPOINT_FORMAT_VERSION}`);
  const parsed = TrainingStateSchema.safeParse(raw);
  if (!parsed.success) throw new CheckpointError(`${path}: invalid training state: ${describeIssues(parsed.error.issues)}`);
  return { state: parsed.data, tensors: file.tensors, path };
}

/**
 * The newest checkpoint that verifies, with a note for each newer one that did not
 * (a torn or corrupt latest file falls back to the previous good one).
 */
export function latestGoodCheckpoint(runDir: string): { checkpoint: LoadedCheckpoint; skipped: string[] } {
  const skipped: string[] = [];
  for (const entry of listCheckpoints(runDir)) {
    try {
      return { checkpoint: readCheckpoint(entry.path), skipped };
    } catch (error) {
      if (!(error instanceof CheckpointError)) throw error;
      skipped.push(error.message);
    }
  }
  const reasons = skipped.length === 0 ? 'there are none' : skipped.join('; ');
  throw new CheckpointError(`${runDir}: no usable checkpoint in ${CHECKPOINT_DIR}/ (${reasons})`);
}

/** Restores modules, optimiser moments and step counts, and the algorithm's extra state. */
export function restoreAlgorithm(algorithm: Algorithm, checkpoint: LoadedCheckpoint): void {
  const { state, tensors, path } = checkpoint;
  try {
    for (const [name, module] of Object.entries(algorithm.modules())) loadModuleTensors(module, tensors, path, `module.${name}.`);
    for (const [name, { optimizer, names }] of Object.entries(algorithm.optimizers())) {
      const saved = state.optimizers[name];
      if (saved === undefined) throw new CheckpointError(`${path}: no state for optimiser '${name}'`);
      const prefix = `optimizer.${name}.`;
      const own = new Map<string, StoredTensor>();
      for (const [key, tensor] of tensors) if (key.startsWith(prefix)) own.set(key.slice(prefix.length), tensor);
      loadOptimizerTensors(optimizer, names, { tensors: own, metadata: { optimizer: saved.optimizer, step: String(saved.step), lr: String(saved.lr) } }, path);
    }
  } catch (error) {
    if (error instanceof CheckpointError) throw error;
    throw new CheckpointError(error instanceof Error ? error.message : String(error));
  }
  algorithm.loadExtraState?.(state.extraState);
}

/** the optimiser entries of the training state */
export function optimizerStates(algorithm: Algorithm): TrainingState['optimizers'] {
  const out: TrainingState['optimizers'] = {};
  for (const [name, { optimizer }] of Object.entries(algorithm.optimizers())) {
    out[name] = { optimizer: optimizer.constructor.name, step: optimizer.stepCount, lr: optimizer.lr };
  }
  return out;
}
