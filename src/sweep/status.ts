/**
 * `stitch sweep status`: done / running / failed / queued from the run directories (a run with
 * eval.json is done, whatever any state file says) and the job state files, and an ETA from the
 * finished jobs' times. Works without Redis; the CLI adds the queue's own counts when given --queue.
 */
import { isFinished, readJobState, type JobStatus } from './jobs.js';
import { readJobIndex } from './prepare.js';
import { readMetricsSummary } from './run-reading.js';

export interface JobStatusLine {
  name: string;
  status: JobStatus;
  error: string | null;
  failures: number;
  host: string | null;
  /** the run's newest logged step */
  step: number | null;
}

export interface SweepStatus {
  name: string;
  counts: Record<JobStatus, number>;
  total: number;
  /** seconds, from the mean training time of the finished runs and the jobs running now; null before any finished */
  etaSeconds: number | null;
  jobs: JobStatusLine[];
}

export function sweepStatus(sweepDir: string): SweepStatus {
  const index = readJobIndex(sweepDir);
  const counts: Record<JobStatus, number> = { queued: 0, running: 0, done: 0, failed: 0 };
  const jobs: JobStatusLine[] = [];
  const durations: number[] = [];
  for (const job of index.jobs) {
    const state = readJobState(sweepDir, job.name);
    const metrics = readMetricsSummary(job.runDir);
    let status: JobStatus = state?.status ?? 'queued';
    if (isFinished(job.runDir)) {
      status = 'done';
      if (metrics !== null) durations.push(metrics.seconds);
    } else if (status === 'done') {
      status = 'queued';
    }
    counts[status] += 1;
    jobs.push({ name: job.name, status, error: state?.error ?? null, failures: state?.failures ?? 0, host: state?.host ?? null, step: metrics?.step ?? null });
  }
  const remaining = counts.queued + counts.running;
  const meanSeconds = durations.length === 0 ? null : durations.reduce((a, b) => a + b, 0) / durations.length;
  const parallel = Math.max(1, counts.running);
  return {
    name: index.name,
    counts,
    total: index.jobs.length,
    etaSeconds: meanSeconds === null ? null : (remaining * meanSeconds) / parallel,
    jobs,
  };
}

export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
