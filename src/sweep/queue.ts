/**
 * Sweeps on many machines, on BullMQ + Redis. `stitch sweep SPEC --queue URL` enqueues one BullMQ
 * job per unfinished sweep job; `stitch worker --queue URL` (any number, any machines seeing the
 * same storage at the same paths) takes them. BullMQ gives each job to one worker at a time and
 * holds a lock the worker renews; a worker that dies stops renewing, BullMQ's stalled-job check
 * moves the job back to the queue, and the next worker continues the run from its last checkpoint
 * (the run directory says where it stopped; see jobs.ts). A worker that fails to renew its lock
 * (cut off from Redis) kills its training process, so a job is never trained by two workers at
 * once nor finished twice. A job whose training fails `attempts` times is marked failed with its
 * error and the others go on.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { JobFailedError, runJob, updateJobState, type RunningJob } from './jobs.js';
import { SweepError, type Sweep, type SweepJob } from './spec.js';

export const QUEUE_NAME = 'stitch-sweep';

export interface QueuedJob {
  sweepDir: string;
  job: SweepJob;
}

export interface QueuedResult {
  name: string;
  mode: 'new' | 'resume' | 'finished';
  seconds: number;
  host: string;
  /** epoch ms when the job's training ended, for the queue's own overhead (bench) */
  endedAt: number;
}

/** how long a connection attempt may take before the command gives up (never a hang) */
const CONNECT_TIMEOUT_MS = 3000;

export function checkRedisUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SweepError(`--queue ${url}: not a URL; expected redis://HOST:PORT`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new SweepError(`--queue ${url}: expected redis://HOST:PORT (or rediss:// for TLS)`);
}

/** Connects once, with no retries, so an unreachable Redis is one clear error within seconds. */
export async function probeRedis(url: string): Promise<void> {
  checkRedisUrl(url);
  const client = new Redis(url, { lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  // the 'error' event carries the cause (ECONNREFUSED, ENOTFOUND); connect() rejects with "Connection is closed."
  let cause: string | null = null;
  client.on('error', (error: Error) => {
    cause ??= error.message;
  });
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    const reason = cause ?? (error instanceof Error ? error.message : String(error));
    throw new SweepError(`cannot reach Redis at ${url} (${reason}); start one with \`redis-server --port PORT\` (docs/sweeps.md)`);
  } finally {
    client.disconnect();
  }
}

/** BullMQ wants connections that retry forever (maxRetriesPerRequest null); the probe above has already failed fast */
const connection = (url: string): { url: string; maxRetriesPerRequest: null } => ({ url, maxRetriesPerRequest: null });

/** a BullMQ job id per sweep job: the sweep directory's hash keeps equal job names of two sweeps apart */
export function queueJobId(sweepDir: string, name: string): string {
  return `${createHash('sha256').update(sweepDir).digest('hex').slice(0, 12)}-${name}`;
}

export interface EnqueueSummary {
  added: number;
  /** already in the queue (waiting, running or completed) */
  present: number;
  /** failed before, put back */
  retried: number;
}

/** Adds the sweep's jobs to the queue (a job already there is left alone; a failed one is retried). */
export async function enqueueSweep(sweep: Sweep, url: string): Promise<EnqueueSummary> {
  await probeRedis(url);
  const queue = new Queue<QueuedJob>(QUEUE_NAME, { connection: connection(url) });
  const summary: EnqueueSummary = { added: 0, present: 0, retried: 0 };
  try {
    for (const job of sweep.jobs) {
      const jobId = queueJobId(sweep.directory, job.name);
      const existing = await queue.getJob(jobId);
      if (existing !== undefined) {
        if (await existing.isFailed()) {
          updateJobState(sweep.directory, job.name, { status: 'queued', failures: 0, error: null });
          await existing.retry('failed');
          summary.retried += 1;
        } else {
          summary.present += 1;
        }
        continue;
      }
      updateJobState(sweep.directory, job.name, { status: 'queued', failures: 0, error: null });
      await queue.add(job.name, { sweepDir: sweep.directory, job }, {
        jobId,
        attempts: sweep.spec.attempts,
        removeOnComplete: false,
        removeOnFail: false,
      });
      summary.added += 1;
    }
  } finally {
    await queue.close();
  }
  return summary;
}

export interface QueueCounts {
  waiting: number;
  active: number;
  completed: number;
  failed: number;
  delayed: number;
}

export async function queueCounts(url: string): Promise<QueueCounts> {
  await probeRedis(url);
  const queue = new Queue(QUEUE_NAME, { connection: connection(url) });
  try {
    const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
    return { waiting: counts.waiting ?? 0, active: counts.active ?? 0, completed: counts.completed ?? 0, failed: counts.failed ?? 0, delayed: counts.delayed ?? 0 };
  } finally {
    await queue.close();
  }
}

export interface WorkerOptions {
  url: string;
  /** jobs at a time in this worker */
  concurrency: number;
  threads: number;
  /** BullMQ's job lock; a worker silent this long is taken for dead and its job resumed elsewhere */
  lockMs: number;
  log: (line: string) => void;
}

export interface RunningWorker {
  /** stops taking jobs and waits for the running ones */
  close: () => Promise<void>;
  /** kills the training processes without touching the queue: their jobs stall and are resumed elsewhere */
  abandon: () => void;
  worker: Worker<QueuedJob, QueuedResult>;
}

export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  await probeRedis(options.url);
  const running = new Map<string, RunningJob>();
  /** jobs whose lock this worker lost: another worker owns them now, so their state is not ours to write */
  const lost = new Set<string>();
  const processor = async (job: Job<QueuedJob, QueuedResult>): Promise<QueuedResult> => {
    const { sweepDir, job: sweepJob } = job.data;
    const log = (line: string): void => options.log(`${sweepJob.name}: ${line}`);
    try {
      const run = await runJob(sweepDir, sweepJob, {
        threads: options.threads,
        log,
        onStart: (child) => {
          if (job.id !== undefined) running.set(job.id, child);
        },
      });
      options.log(run.mode === 'finished' ? `already finished ${sweepJob.name}` : `done ${sweepJob.name} (${run.mode}, ${run.seconds.toFixed(1)} s)`);
      return { name: sweepJob.name, mode: run.mode, seconds: run.seconds, host: hostname(), endedAt: Date.now() };
    } catch (error) {
      if (error instanceof JobFailedError && job.id !== undefined && lost.delete(job.id)) {
        options.log(`stopped ${sweepJob.name}: this worker lost the job`);
      } else if (error instanceof JobFailedError) {
        const failures = job.attemptsMade + 1;
        const last = failures >= (job.opts.attempts ?? 1);
        updateJobState(sweepDir, sweepJob.name, { status: last ? 'failed' : 'queued', failures, error: error.message, pid: null });
        options.log(`${last ? 'failed' : 'will retry'} ${sweepJob.name} (try ${failures} of ${job.opts.attempts ?? 1}): ${error.message}`);
      }
      throw error;
    } finally {
      if (job.id !== undefined) running.delete(job.id);
    }
  };
  const worker = new Worker<QueuedJob, QueuedResult>(QUEUE_NAME, processor, {
    connection: connection(options.url),
    concurrency: options.concurrency,
    lockDuration: options.lockMs,
    stalledInterval: Math.max(500, Math.floor(options.lockMs / 2)),
    // a job stalls each time its worker dies; that is not the job's fault, so stalls do not fail it
    maxStalledCount: 1000,
  });
  worker.on('lockRenewalFailed', (jobIds: string[]) => {
    for (const id of jobIds) {
      const child = running.get(id);
      if (child === undefined) continue;
      lost.add(id);
      options.log(`lost the lock of job ${id}; stopping its training (another worker resumes it)`);
      child.kill();
    }
  });
  worker.on('error', (error: Error) => options.log(`queue error: ${error.message}`));
  await worker.waitUntilReady();
  return {
    worker,
    close: () => worker.close(),
    abandon: () => {
      for (const child of running.values()) child.kill();
    },
  };
}
