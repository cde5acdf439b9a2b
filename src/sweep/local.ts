/**
 * `stitch sweep SPEC --workers N`: the jobs on this machine, N training processes at a time,
 * the cores split between them (each gets STITCH_THREADS = cores / N, at least 1). Resumable:
 * the same command after a crash skips finished runs and resumes interrupted ones.
 */
import { availableParallelism } from 'node:os';
import { JobFailedError, runJob, updateJobState } from './jobs.js';
import { readMetricsSummary } from './run-reading.js';
import type { Sweep, SweepJob } from './spec.js';

export interface LocalOptions {
  workers: number;
  /** threads per training process (default: cores / workers) */
  threads?: number;
  log: (line: string) => void;
  /** how often the running jobs' steps are logged (default 30 s) */
  progressMs?: number;
}

export interface LocalSummary {
  done: number;
  failed: Array<{ name: string; error: string }>;
}

export const threadsPerWorker = (workers: number): number => Math.max(1, Math.floor(availableParallelism() / workers));

/** Tries a job up to the spec's attempts; a job that keeps failing is marked failed and the rest go on. */
async function runWithRetries(sweep: Sweep, job: SweepJob, threads: number, log: (line: string) => void): Promise<string | null> {
  let error = '';
  for (let attempt = 1; attempt <= sweep.spec.attempts; attempt++) {
    try {
      const run = await runJob(sweep.directory, job, { threads, log: (line) => log(`${job.name}: ${line}`) });
      if (run.mode !== 'finished') log(`done ${job.name} (${run.mode === 'resume' ? 'resumed' : 'new'}, ${run.seconds.toFixed(1)} s)`);
      return null;
    } catch (caught) {
      if (!(caught instanceof JobFailedError)) throw caught;
      error = caught.message;
      const last = attempt === sweep.spec.attempts;
      updateJobState(sweep.directory, job.name, { status: last ? 'failed' : 'queued', failures: attempt, error, pid: null });
      log(`${last ? 'failed' : 'retrying'} ${job.name} (try ${attempt} of ${sweep.spec.attempts}): ${error}`);
    }
  }
  return error;
}

export async function runLocalSweep(sweep: Sweep, options: LocalOptions): Promise<LocalSummary> {
  const threads = options.threads ?? threadsPerWorker(options.workers);
  const pending = [...sweep.jobs];
  for (const job of pending) updateJobState(sweep.directory, job.name, { status: 'queued', failures: 0, error: null });
  const summary: LocalSummary = { done: 0, failed: [] };
  const total = pending.length;
  options.log(`${total} jobs, ${options.workers} at a time, ${threads} thread(s) each`);
  // training runs for minutes to hours: say where the running jobs are now and then
  const running = new Set<SweepJob>();
  const ticker = setInterval(() => {
    if (running.size === 0) return;
    const steps = [...running].map((job) => `${job.name} step ${readMetricsSummary(job.runDir)?.step ?? 0}/${typeof job.point.steps === 'number' ? job.point.steps : sweep.spec.budget.steps}`);
    options.log(`progress: ${summary.done + summary.failed.length}/${total} jobs finished; running ${steps.join(', ')}`);
  }, options.progressMs ?? 30_000);
  ticker.unref();
  await Promise.all(Array.from({ length: Math.min(options.workers, total) }, async () => {
    for (let job = pending.shift(); job !== undefined; job = pending.shift()) {
      running.add(job);
      const error = await runWithRetries(sweep, job, threads, options.log);
      running.delete(job);
      if (error === null) summary.done += 1;
      else summary.failed.push({ name: job.name, error });
      options.log(`progress: ${summary.done + summary.failed.length}/${total} jobs (${summary.failed.length} failed)`);
    }
  }));
  clearInterval(ticker);
  return summary;
}
