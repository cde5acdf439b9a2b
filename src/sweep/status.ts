/**
 * `stitch sweep status`: done / running / failed / queued from the run directories (a run with
 * eval.json is done, whatever any state file says) and the job state files, and an ETA from the
 * finished jobs' times. Works without Redis; the CLI adds the queue's own counts when given --queue.
 */
import { hostname } from 'node:os';
import { HEARTBEAT_STALE_SECONDS, processAlive, readHeartbeat } from '../train/run-files.js';
import { isFinished, readJobState, type JobState, type JobStatus } from './jobs.js';
import { readJobIndex, type JobIndex } from './prepare.js';
import { readMetricsSummary, type MetricsSummaryRead } from './run-reading.js';

export interface JobStatusLine {
  name: string;
  status: JobStatus;
  error: string | null;
  failures: number;
  host: string | null;
  /** the run's newest logged step */
  step: number | null;
  /** why a job recorded as running is counted as queued (its process is gone), else null */
  note: string | null;
}


/**
 * A job recorded as running whose process is gone (a killed local sweep, a dead worker whose job
 * the queue has not handed on yet): its process was on this host and is dead, or its run's
 * heartbeat is stale.
 */
function goneReason(state: JobState, runDir: string): string | null {
  if (state.host === hostname() && state.pid !== null && !processAlive(state.pid)) return 'interrupted: its process is gone; it resumes when the sweep or a worker runs again';
  // no heartbeat (yet, or from a Stitch without one) says nothing
  const heartbeat = readHeartbeat(runDir);
  if (heartbeat === null || (heartbeat.phase !== 'train' && heartbeat.phase !== 'eval')) return null;
  const age = Date.now() - Date.parse(heartbeat.updatedAt);
  return age > HEARTBEAT_STALE_SECONDS * 1000 ? `stalled: no heartbeat for ${Math.round(age / 1000)} s` : null;
}

export interface SweepStatus {
  name: string;
  counts: Record<JobStatus, number>;
  total: number;
  /** seconds, from the mean training time of the finished runs and the jobs running now; null before any finished */
  etaSeconds: number | null;
  jobs: JobStatusLine[];
}

/**
 * `index`: the jobs, when they come from the sweep file rather than the directory's jobs.json;
 * `readMetrics`: how a run's metrics log is read (the dashboard keeps incremental readers)
 */
export function sweepStatus(sweepDir: string, index: JobIndex = readJobIndex(sweepDir), readMetrics: MetricsSummaryRead = readMetricsSummary): SweepStatus {
  const counts: Record<JobStatus, number> = { queued: 0, running: 0, done: 0, failed: 0 };
  const jobs: JobStatusLine[] = [];
  const durations: number[] = [];
  for (const job of index.jobs) {
    const state = readJobState(sweepDir, job.name);
    const metrics = readMetrics(job.runDir);
    let status: JobStatus = state?.status ?? 'queued';
    let note: string | null = null;
    if (isFinished(job.runDir)) {
      status = 'done';
      if (metrics !== null) durations.push(metrics.seconds);
    } else if (status === 'done') {
      status = 'queued';
    } else if (status === 'running' && state !== null) {
      note = goneReason(state, job.runDir);
      if (note !== null) status = 'queued';
    }
    counts[status] += 1;
    jobs.push({ name: job.name, status, error: state?.error ?? null, failures: state?.failures ?? 0, host: state?.host ?? null, step: metrics?.step ?? null, note });
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
