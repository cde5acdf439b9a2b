/**
 * Running one sweep job, the same way locally and from the queue: a job is one ordinary run
 * directory made by `stitch train` (a child process). Its state comes from the run directory
 * itself, so a rerun never repeats finished work: eval.json means finished (skipped), config.json
 * with a checkpoint means interrupted (continued with `stitch train --resume`, the exact resume),
 * config.json without a checkpoint means it died before its first checkpoint (started again; there
 * is nothing to resume from). Each job also has a small state file in the sweep directory
 * (attempts, last error, who ran it), written atomically by whoever holds the job.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { CHECKPOINT_DIR } from '../train/checkpoint.js';
import { readLockOwner } from '../train/lock.js';
import { CONFIG_FILE, EVAL_FILE, LOCK_FILE, processAlive } from '../train/run-files.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { readRegularFile } from '../util/local-server.js';
import type { SweepJob } from './spec.js';

export const JOB_STATES_DIR = 'jobs';
/** the run lock `stitch train` holds (docs/sweeps.md: what the sweep relies on) */
export { LOCK_FILE as RUN_LOCK_FILE } from '../train/run-files.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const TETHER = fileURLToPath(new URL('./tether.js', import.meta.url));

export type JobStatus = 'queued' | 'running' | 'done' | 'failed';

export interface JobState {
  name: string;
  status: JobStatus;
  /** tries that ended in an error */
  failures: number;
  error: string | null;
  host: string | null;
  pid: number | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** how the last try began: a new run, a resume from a checkpoint, or nothing to do */
  mode: 'new' | 'resume' | 'finished' | null;
}

export const jobStatePath = (sweepDir: string, name: string): string => join(sweepDir, JOB_STATES_DIR, `${name}.json`);

/** a job state file is a few hundred bytes; a larger one (or a FIFO, a device) is not one */
export const MAX_JOB_STATE_BYTES = 64 << 10;

export function readJobState(sweepDir: string, name: string): JobState | null {
  try {
    return JSON.parse(readRegularFile(jobStatePath(sweepDir, name), MAX_JOB_STATE_BYTES).toString('utf8')) as JobState;
  } catch {
    return null;
  }
}

export function writeJobState(sweepDir: string, state: JobState): void {
  mkdirSync(join(sweepDir, JOB_STATES_DIR), { recursive: true });
  writeFileAtomic(jobStatePath(sweepDir, state.name), `${JSON.stringify(state, null, 2)}\n`);
}

export function updateJobState(sweepDir: string, name: string, change: Partial<JobState>): JobState {
  const state: JobState = {
    name, status: 'queued', failures: 0, error: null, host: null, pid: null, startedAt: null, finishedAt: null, mode: null,
    ...readJobState(sweepDir, name), ...change,
  };
  writeJobState(sweepDir, state);
  return state;
}

export const isFinished = (runDir: string): boolean => existsSync(join(runDir, EVAL_FILE));

function hasCheckpoint(runDir: string): boolean {
  const dir = join(runDir, CHECKPOINT_DIR);
  return existsSync(dir) && readdirSync(dir).some((entry) => !entry.startsWith('.'));
}

/** what `stitch train` must do next for this job */
export function nextStep(job: SweepJob): 'finished' | 'resume' | 'new' {
  if (isFinished(job.runDir)) return 'finished';
  if (existsSync(join(job.runDir, CONFIG_FILE)) && hasCheckpoint(job.runDir)) return 'resume';
  return 'new';
}

/**
 * Before a job's run is (re)started: a `.lock` left by another host is removed, because the
 * caller holds the job (the queue hands a job to one worker at a time, and a worker that loses its
 * job lock kills its training process), so that host's process is dead or being killed. A lock of
 * a live process on this host (an orphan still exiting) is waited for; a lock of a dead process on
 * this host is left to `stitch train`'s own stale-lock check.
 */
export async function clearForeignLock(runDir: string, log: (line: string) => void, waitMs = 30_000): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const lock = readLockOwner(runDir);
    if (lock === null) return;
    if (lock.hostname !== hostname()) {
      log(`removing the run lock of host ${lock.hostname} (its worker lost this job)`);
      rmSync(join(runDir, LOCK_FILE), { force: true });
      return;
    }
    if (!processAlive(lock.pid) || Date.now() > deadline) return;
    await sleep(200);
  }
}

export interface RunningJob {
  /** resolves with the exit; rejects never */
  exited: Promise<{ code: number | null; stderrTail: string }>;
  kill: () => void;
  pid: number | undefined;
}

/** the last few lines a failed `stitch train` printed: its one-line error is the last */
const STDERR_TAIL = 4096;

/** Starts `stitch train` for the job (new or --resume), tethered to this process. */
export function startTraining(job: SweepJob, mode: 'new' | 'resume', threads: number): RunningJob {
  if (mode === 'new' && existsSync(job.runDir)) {
    // config.json without a checkpoint (or a half-made directory): nothing to resume from
    rmSync(job.runDir, { recursive: true, force: true });
  }
  const args = mode === 'resume' ? ['train', '--resume', job.runDir] : ['train', ...job.trainArgs];
  const child = spawn(process.execPath, [TETHER, CLI, ...args], {
    stdio: ['pipe', 'ignore', 'pipe'],
    env: { ...process.env, STITCH_THREADS: String(threads), CI: '1' },
  });
  let tail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-STDERR_TAIL);
  });
  const exited = new Promise<{ code: number | null; stderrTail: string }>((resolve) => {
    child.on('exit', (code) => resolve({ code, stderrTail: tail }));
    child.on('error', (error) => resolve({ code: null, stderrTail: error.message }));
  });
  return { exited, kill: () => child.kill('SIGTERM'), pid: child.pid };
}

export class JobFailedError extends Error {}

/** the error line of a failed run: its last non-progress stderr line */
export function lastErrorLine(stderrTail: string, code: number | null): string {
  const lines = stderrTail.split(/[\r\n]+/).map((line) => line.trim()).filter((line) => line !== '');
  const line = [...lines].reverse().find((candidate) => candidate.startsWith('stitch:')) ?? lines[lines.length - 1] ?? '';
  return `exit ${code ?? 'by signal'}${line === '' ? '' : `: ${line}`}`;
}

export interface JobRun {
  mode: 'new' | 'resume' | 'finished';
  seconds: number;
}

/**
 * One try of a job: skips it when finished, else trains it to the end (new or resumed). Throws
 * JobFailedError with the run's error line when `stitch train` fails. `onStart` sees the child,
 * so that a caller can kill it (a worker that lost its job).
 */
export async function runJob(sweepDir: string, job: SweepJob, options: { threads: number; log: (line: string) => void; onStart?: (running: RunningJob) => void }): Promise<JobRun> {
  const started = performance.now();
  await clearForeignLock(job.runDir, options.log);
  const mode = nextStep(job);
  const base = { host: hostname(), startedAt: new Date().toISOString(), finishedAt: null, mode };
  if (mode === 'finished') {
    updateJobState(sweepDir, job.name, { ...base, status: 'done', pid: null, finishedAt: base.startedAt, error: null });
    return { mode, seconds: 0 };
  }
  options.log(mode === 'resume' ? 'resuming from its last checkpoint' : 'starting a new run');
  const running = startTraining(job, mode, options.threads);
  updateJobState(sweepDir, job.name, { ...base, status: 'running', pid: running.pid ?? null });
  options.onStart?.(running);
  const { code, stderrTail } = await running.exited;
  if (code !== 0) throw new JobFailedError(lastErrorLine(stderrTail, code));
  updateJobState(sweepDir, job.name, { status: 'done', pid: null, finishedAt: new Date().toISOString(), error: null });
  return { mode, seconds: (performance.now() - started) / 1000 };
}
