/**
 * `stitch sweep SPEC` (local, or enqueued with --queue), `stitch sweep status`, `stitch sweep
 * report` and `stitch worker` (docs/sweeps.md).
 */
import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { runLocalSweep, threadsPerWorker } from '../sweep/local.js';
import { jobIndex, makeDatasets, prepareSweepDirectory, type JobIndex } from '../sweep/prepare.js';
import { enqueueSweep, probeRedis, queueCounts, startWorker } from '../sweep/queue.js';
import { writeSweepReport } from '../sweep/results.js';
import { loadSweep, SweepError, type Sweep } from '../sweep/spec.js';
import { formatDuration, sweepStatus } from '../sweep/status.js';
import { UserError } from './errors.js';

interface SweepOptions {
  dryRun?: boolean;
  workers: string;
  threads?: string;
  queue?: string;
}

function integerOption(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(parsed) || parsed < min) throw new UserError(`${name} must be an integer >= ${min} (got ${value})`);
  return parsed;
}

/** sweep errors are the user's to fix: one line, exit 2 */
async function asUserErrors<T>(work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof SweepError) throw new UserError(error.message, 2);
    throw error;
  }
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/**
 * A sweep directory (its jobs.json), or a sweep file: its jobs come from the file, so a sweep whose
 * runs were made otherwise (or whose directory is gone) can still be reported.
 */
function sweepTarget(target: string): { directory: string; index?: JobIndex } {
  if (!existsSync(target)) throw new UserError(`${target}: no such sweep directory or sweep file`);
  if (statSync(target).isDirectory()) return { directory: target };
  const loaded = loadSweep(target);
  return { directory: loaded.directory, index: jobIndex(loaded) };
}

function printDryRun(sweep: Sweep): void {
  console.log(`sweep ${sweep.spec.name}: ${sweep.jobs.length} jobs in ${sweep.directory} (runs in ${sweep.runsDirectory})`);
  for (const job of sweep.jobs) console.log(`${job.name}\tstitch train ${job.trainArgs.map((arg) => (/^[\w./=,:@+-]+$/.test(arg) ? arg : `'${arg}'`)).join(' ')}`);
}

export function registerSweepCommands(program: Command): void {
  const sweep = program
    .command('sweep')
    .description('run a sweep file (datasets x algorithms x seeds x grids) here, or enqueue it for `stitch worker`s with --queue; see docs/sweeps.md')
    .argument('[spec]', 'a sweep file (.yaml, .yml or .json)')
    .option('--dry-run', 'print the expanded jobs (run directory and `stitch train` arguments) and stop')
    .option('--workers <n>', 'training processes at a time on this machine', '1')
    .option('--threads <n>', 'threads per training process (default: cores / workers)')
    .option('--queue <url>', 'enqueue the jobs on this Redis (redis://HOST:PORT) instead of running them')
    .action(async (spec: string | undefined, options: SweepOptions) => {
      if (spec === undefined) throw new UserError('give a sweep file (stitch sweep SPEC), or use stitch sweep status / report');
      const workers = integerOption('--workers', options.workers, 1) ?? 1;
      const threads = integerOption('--threads', options.threads, 1);
      await asUserErrors(async () => {
        const loaded = loadSweep(spec);
        if (options.dryRun === true) {
          printDryRun(loaded);
          return;
        }
        if (options.queue !== undefined) await probeRedis(options.queue);
        prepareSweepDirectory(loaded);
        makeDatasets(loaded, log);
        if (options.queue !== undefined) {
          const summary = await enqueueSweep(loaded, options.queue);
          console.log(`sweep ${loaded.spec.name}: ${summary.added} jobs enqueued, ${summary.present} already in the queue, ${summary.retried} failed ones retried`);
          console.log(`start workers with: stitch worker --queue ${options.queue}`);
          console.log(`follow with: stitch sweep status ${loaded.directory}`);
          return;
        }
        const summary = await runLocalSweep(loaded, { workers, threads: threads ?? threadsPerWorker(workers), log });
        console.log(`sweep ${loaded.spec.name}: ${summary.done} jobs done, ${summary.failed.length} failed`);
        for (const failure of summary.failed) console.log(`failed ${failure.name}: ${failure.error}`);
        if (summary.done > 0) console.log(`results: ${writeSweepReport(loaded.directory).paths.markdown}`);
        if (summary.failed.length > 0) process.exitCode = 1;
      });
    });

  sweep
    .command('status')
    .description('done / running / failed / queued jobs of a sweep and the ETA')
    .argument('<sweep>', 'the sweep directory or its sweep file')
    .option('--queue <url>', "also show the queue's counts (all sweeps on that Redis)")
    .option('--json', 'print one JSON object')
    .action(async (target: string, options: { queue?: string; json?: boolean }) => {
      // commander gives a --queue after `status` to the parent command, which has one too
      const url = options.queue ?? (sweep.opts() as { queue?: string }).queue;
      await asUserErrors(async () => {
        const queue = url === undefined ? null : await queueCounts(url);
        const { directory, index } = sweepTarget(target);
        const status = sweepStatus(directory, index);
        if (options.json === true) {
          console.log(JSON.stringify({ ...status, queue }));
          return;
        }
        const { counts } = status;
        const eta = status.etaSeconds === null ? 'ETA unknown until a job finishes' : `ETA ${formatDuration(status.etaSeconds)}`;
        console.log(`sweep ${status.name}: ${counts.done}/${status.total} done, ${counts.running} running, ${counts.failed} failed, ${counts.queued} queued; ${eta}`);
        if (queue !== null) console.log(`queue: ${queue.waiting} waiting, ${queue.active} active, ${queue.completed} completed, ${queue.failed} failed, ${queue.delayed} delayed (every sweep on this Redis)`);
        for (const job of status.jobs.filter((line) => line.note !== null)) console.log(`queued   ${job.name}: ${job.note ?? ''}`);
        for (const job of status.jobs.filter((line) => line.status === 'running' || line.status === 'failed')) {
          const where = job.host === null ? '' : ` on ${job.host}`;
          console.log(`${job.status.padEnd(8)} ${job.name}${job.status === 'running' ? `${where}, step ${job.step ?? 0}` : `: ${job.error ?? ''}`}`);
        }
      });
    });

  sweep
    .command('report')
    .description('per dataset and algorithm over seeds: mean ± std, IQM with a bootstrap CI, last and best; as results.md, results.csv, results.json and comparison.html')
    .argument('<sweep>', 'the sweep directory or its sweep file')
    .action(async (target: string) => {
      await asUserErrors(() => {
        const { directory, index } = sweepTarget(target);
        const { paths } = writeSweepReport(directory, index);
        console.log(`results: ${paths.markdown}`);
        console.log(`csv: ${paths.csv}`);
        console.log(`comparison: ${paths.html}`);
      });
    });

  program
    .command('worker')
    .description('take sweep jobs from a Redis queue (see stitch sweep --queue) until stopped')
    .requiredOption('--queue <url>', 'the Redis, redis://HOST:PORT')
    .option('--concurrency <n>', 'jobs at a time in this worker', '1')
    .option('--threads <n>', 'threads per training process (default: cores / concurrency)')
    .option('--lock-seconds <s>', 'a worker silent this long is taken for dead, and its job resumed by another worker', '30')
    .action(async (options: { queue: string; concurrency: string; threads?: string; lockSeconds: string }) => {
      const concurrency = integerOption('--concurrency', options.concurrency, 1) ?? 1;
      const threads = integerOption('--threads', options.threads, 1) ?? threadsPerWorker(concurrency);
      const lockSeconds = Number(options.lockSeconds);
      if (!(lockSeconds >= 1)) throw new UserError(`--lock-seconds must be a number >= 1 (got ${options.lockSeconds})`);
      const worker = await asUserErrors(() => startWorker({ url: options.queue, concurrency, threads, lockMs: lockSeconds * 1000, log }));
      console.log(`worker: taking jobs from ${options.queue} (${concurrency} at a time, ${threads} thread(s) each; Ctrl-C stops)`);
      await new Promise<void>((stop) => {
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      // the running jobs are left to stall: another worker resumes them from their last checkpoint
      worker.abandon();
      process.exit(130);
    });
}
