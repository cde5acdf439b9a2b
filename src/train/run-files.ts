/**
 * The names of the files in a run directory and the readers other layers need (the report, the
 * dashboard, `stitch eval`). Kept apart from the training loop so that reading a run never
 * imports training code, and training never imports the report (docs/run-format.md).
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { FileReadRefused, readRegularFile } from '../util/local-server.js';
import { RunConfigError, validateRunConfig, type RunConfig } from './config.js';

export const CONFIG_FILE = 'config.json';
export const EVAL_FILE = 'eval.json';
export const POLICY_FILE = 'policy.safetensors';
/** with keepBest: the weights of the run's best evaluation (`eval.json`'s `best`) */
export const BEST_POLICY_FILE = 'policy-best.safetensors';
/** one training record per logged step */
export const METRICS_FILE = 'metrics.jsonl';
export const METRICS_JSONL = METRICS_FILE;
export const METRICS_CSV = 'metrics.csv';
export const EVALUATIONS_JSONL = 'evaluations.jsonl';
export const CHECKPOINT_DIR = 'checkpoints';
/** where the run stands, rewritten at most every 2 s while it is active (the dashboard reads it) */
export const HEARTBEAT_FILE = 'heartbeat.json';
/** exclusive: held by the one process writing the run */
export const LOCK_FILE = '.lock';
/** the Stitch version, git commit and command line of every session that wrote the run */
export const PROVENANCE_FILE = 'provenance.json';

/** far above any real config.json (a few KiB); a larger file is not read into memory */
const MAX_CONFIG_BYTES = 1 << 20;

export function readRunConfig(runDir: string): RunConfig {
  const path = join(runDir, CONFIG_FILE);
  if (!existsSync(path)) throw new RunConfigError(`${runDir} is not a Stitch run directory (no ${CONFIG_FILE})`);
  let text: string;
  try {
    // a regular file only: a FIFO or a link to /dev/zero in a copied-in run is refused, not waited on
    text = readRegularFile(path, MAX_CONFIG_BYTES).toString('utf8');
  } catch (error) {
    if (error instanceof FileReadRefused) throw new RunConfigError(`${error.message} (not a run config)`);
    throw error;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new RunConfigError(`${path}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  return validateRunConfig(raw, path);
}

export const HEARTBEAT_PHASES = ['train', 'eval', 'finished', 'interrupted', 'halted'] as const;
export type HeartbeatPhase = (typeof HEARTBEAT_PHASES)[number];

/** strings bounded: the dashboard reads heartbeats of run directories copied in from elsewhere */
export const HeartbeatSchema = z.object({
  pid: z.number().int().positive(),
  hostname: z.string().max(1024),
  updatedAt: z.string().max(64),
  phase: z.enum(HEARTBEAT_PHASES),
  step: z.number().int().min(0),
  steps: z.number().int().min(0),
  evaluation: z.object({
    episodesDone: z.number().int().min(0),
    episodesTotal: z.number().int().min(0),
    meanReturnSoFar: z.number().nullable(),
    etaSeconds: z.number().nullable(),
  }).nullable(),
});

export type Heartbeat = z.infer<typeof HeartbeatSchema>;

/** a run whose heartbeat is older than this (and not in a final phase) is stale: its process crashed or hangs */
export const HEARTBEAT_STALE_SECONDS = 30;

export const MAX_HEARTBEAT_BYTES = 64 * 1024;

/** the run's heartbeat, or null when there is none or it cannot be read (a run from before heartbeats) */
export function readHeartbeat(runDir: string): Heartbeat | null {
  try {
    const parsed = HeartbeatSchema.safeParse(JSON.parse(readRegularFile(join(runDir, HEARTBEAT_FILE), MAX_HEARTBEAT_BYTES).toString('utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** whether `pid` names a live process on this host */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else
    return (error as { code?: unknown }).code === 'EPERM';
  }
}

/**
 * A run whose process crashed or hangs: its heartbeat is older than HEARTBEAT_STALE_SECONDS, or
 * its pid is gone on this host, while its phase is not a final one (finished, interrupted, halted).
 */
export function isHeartbeatStale(heartbeat: Heartbeat, now = Date.now()): boolean {
  if (heartbeat.phase === 'finished' || heartbeat.phase === 'interrupted' || heartbeat.phase === 'halted') return false;
  const updated = Date.parse(heartbeat.updatedAt);
  if (!Number.isFinite(updated) || now - updated > HEARTBEAT_STALE_SECONDS * 1000) return true;
  return heartbeat.hostname === hostname() && !processAlive(heartbeat.pid);
}
