/**
 * The dashboard's sweep data: the sweeps under the runs directory (RUNS/sweeps/NAME, where
 * `stitch sweep` puts them by default, or RUNS/NAME) with their done / running / failed / queued
 * jobs, ETA and, once runs have finished, the results table, served as `/api/sweeps`. The page
 * itself is the typed client's `sweeps` mode (src/report/client/sweeps-view.ts), served by
 * server.ts with the same Content-Security-Policy as the main page.
 *
 * A sweep directory may be copied in from elsewhere, so it gets the run directories' rules:
 * - a sweep directory, and every job's run directory and state file, is used only when its real
 *   path (links followed) stays inside the runs directory; a job that leaves it is not read and
 *   is named in the sweep's `problems`;
 * - only regular files are read, each up to a cap (the sweep module's readers), so a FIFO or a
 *   link to /dev/zero is refused, never waited on or read without end;
 * - each sweep is computed again only when one of its files changed (size, modification time,
 *   inode of the index, the job states and the runs' eval, metrics and heartbeat files) or its
 *   view is `maxAgeMs` old (liveness depends on the clock), and the whole listing at most once
 *   per `minIntervalMs`, so fifty polling clients cost what one does; each run's metrics log is
 *   read incrementally (only what was appended since the last computation).
 */
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import type { Hono } from 'hono';
import { z } from 'zod';
import { JOB_STATES_DIR, jobStatePath } from '../sweep/jobs.js';
import { INDEX_FILE, type JobIndex, type JobIndexEntry } from '../sweep/prepare.js';
import { computeResults, type SweepResults } from '../sweep/results.js';
import { MetricsSummaryReader, type MetricsSummary } from '../sweep/run-reading.js';
import { sweepStatus, type SweepStatus } from '../sweep/status.js';
import { METRICS_JSONL } from '../train/metrics.js';
import { EVAL_FILE, HEARTBEAT_FILE } from '../train/run-files.js';
import { readRegularFile } from '../util/local-server.js';

export interface SweepView {
  /** the sweep directory, relative to the runs directory */
  path: string;
  /** null when the job index cannot be read (the reason is in `problems`) */
  status: SweepStatus | null;
  results: SweepResults | null;
  /** what was not read and why: an unreadable index, jobs whose files leave the runs directory */
  problems: string[];
}

/** a job index lists a few hundred jobs of a few hundred bytes each; far larger is not one */
export const SWEEP_INDEX_MAX_BYTES = 16 << 20;

export interface SweepsDirectoryOptions {
  /** the listing is computed at most this often; requests in between get the last one (default 1000) */
  minIntervalMs?: number;
  /** an unchanged sweep is computed again after this long (heartbeats age, processes die; default 10000) */
  maxAgeMs?: number;
}

interface CachedSweep {
  key: string;
  computedAt: number;
  view: SweepView;
}

/** what the dashboard needs of jobs.json; anything else in it is ignored */
const indexSchema = z.object({
  name: z.string(),
  jobs: z.array(z.object({
    name: z.string(),
    dataset: z.string(),
    algorithm: z.string(),
    algo: z.string(),
    seed: z.number(),
    point: z.record(z.string(), z.unknown()),
    runDir: z.string(),
    trainArgs: z.array(z.string()),
  })),
});

function isInside(root: string, path: string): boolean {
  return path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** a job name is a file name in the state directory: no separators, no `..` */
const safeJobName = (name: string): boolean => name !== '' && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);

function realPathOrNull(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

/** identity, size and modification time of what a path leads to, without opening it */
function fileKey(path: string): string {
  try {
    const stat = statSync(path, { throwIfNoEntry: false });
    return stat === undefined ? '-' : `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}`;
  } catch {
    return '?';
  }
}

/** `dir` holds a jobs.json that is not a directory (a plain file in the runs directory holds none) */
function hasIndex(dir: string): boolean {
  try {
    const stat = statSync(join(dir, INDEX_FILE), { throwIfNoEntry: false });
    return stat !== undefined && !stat.isDirectory();
  } catch {
    return false; // ENOTDIR, EACCES, a loop of links
  }
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** The sweeps of one runs directory, read with the dashboard's rules and cached per sweep. */
export class SweepsDirectory {
  private readonly cache = new Map<string, CachedSweep>();
  /** the jobs last read for a view (kept beside it, not sent to clients) */
  private readonly readJobs = new WeakMap<SweepView, JobIndexEntry[]>();
  /** one incremental metrics reader per run directory of a listed job */
  private readonly metricsReaders = new Map<string, MetricsSummaryReader>();
  private retiredMetricsBytes = 0;
  private readonly minIntervalMs: number;
  private readonly maxAgeMs: number;
  private lastList: { at: number; views: SweepView[] } | null = null;
  /** sweeps computed (index parsed, statuses and results read) since the start */
  computations = 0;

  constructor(private readonly root: string, options: SweepsDirectoryOptions = {}) {
    this.minIntervalMs = options.minIntervalMs ?? 1000;
    this.maxAgeMs = options.maxAgeMs ?? 10_000;
  }

  /** `path` (relative) and real directory of every sweep whose real path is inside the runs directory */
  private sweepDirectories(realRoot: string): Array<{ path: string; real: string }> {
    const found: Array<{ path: string; real: string }> = [];
    for (const parent of ['sweeps', '.']) {
      let names: string[];
      try {
        names = readdirSync(join(this.root, parent)).sort();
      } catch {
        continue;
      }
      for (const name of names) {
        const real = realPathOrNull(join(this.root, parent, name));
        if (real === null || !isInside(realRoot, real)) continue;
        // a FIFO or device named jobs.json is listed, with its problem, but never opened here
        if (!hasIndex(real)) continue;
        found.push({ path: parent === '.' ? name : `${parent}/${name}`, real });
      }
    }
    return found;
  }

  list(): SweepView[] {
    const now = Date.now();
    if (this.lastList !== null && now - this.lastList.at < this.minIntervalMs) return this.lastList.views;
    const realRoot = realPathOrNull(this.root);
    const views: SweepView[] = [];
    const present = new Set<string>();
    if (realRoot !== null) {
      for (const { path, real } of this.sweepDirectories(realRoot)) {
        const cacheKey = `${path}\0${real}`;
        present.add(cacheKey);
        views.push(this.sweep(path, real, realRoot, cacheKey, now));
      }
    }
    this.forgetAllBut(present);
    this.lastList = { at: now, views };
    return views;
  }

  /** metrics log bytes read from disk since the start (an unchanged log is not read again) */
  metricsBytesRead(): number {
    let total = this.retiredMetricsBytes;
    for (const reader of this.metricsReaders.values()) total += reader.bytesRead;
    return total;
  }

  /** drops the sweeps that were deleted or moved, and the readers of runs no sweep lists now */
  private forgetAllBut(present: ReadonlySet<string>): void {
    for (const key of this.cache.keys()) if (!present.has(key)) this.cache.delete(key);
    const listed = new Set<string>();
    for (const cached of this.cache.values()) for (const job of this.jobsOf(cached.view)) listed.add(job.runDir);
    for (const [runDir, reader] of this.metricsReaders) {
      if (!listed.has(runDir)) {
        this.retiredMetricsBytes += reader.bytesRead;
        this.metricsReaders.delete(runDir);
      }
    }
  }

  private readMetrics(runDir: string): MetricsSummary | null {
    let reader = this.metricsReaders.get(runDir);
    if (reader === undefined) {
      reader = new MetricsSummaryReader(runDir);
      this.metricsReaders.set(runDir, reader);
    }
    return reader.read();
  }

  private sweep(path: string, real: string, realRoot: string, cacheKey: string, now: number): SweepView {
    const cached = this.cache.get(cacheKey);
    const key = this.changeKey(real, cached);
    if (cached !== undefined && cached.key === key && now - cached.computedAt < this.maxAgeMs) return cached.view;
    this.computations += 1;
    const view = this.compute(path, real, realRoot);
    // the key after reading: it names the jobs of the index just read (a file that changed while
    // it was read is seen by the next change or after maxAgeMs)
    this.cache.set(cacheKey, { key: this.changeKey(real, { view }), computedAt: now, view });
    return view;
  }

  /** the index, then every listed job's state and run files, as they are on disk now */
  private changeKey(real: string, cached: Pick<CachedSweep, 'view'> | undefined): string {
    const parts = [fileKey(join(real, INDEX_FILE))];
    for (const job of this.jobsOf(cached?.view)) {
      parts.push(fileKey(jobStatePath(real, job.name)));
      for (const file of [EVAL_FILE, METRICS_JSONL, HEARTBEAT_FILE]) parts.push(fileKey(join(job.runDir, file)));
    }
    return parts.join('|');
  }

  private jobsOf(view: SweepView | undefined): JobIndexEntry[] {
    return view === undefined ? [] : (this.readJobs.get(view) ?? []);
  }

  private compute(path: string, real: string, realRoot: string): SweepView {
    const problems: string[] = [];
    let parsed: z.infer<typeof indexSchema>;
    try {
      const checked = indexSchema.safeParse(JSON.parse(readRegularFile(join(real, INDEX_FILE), SWEEP_INDEX_MAX_BYTES).toString('utf8')));
      if (!checked.success) throw new Error(`not a job index: ${checked.error.issues[0]?.path.join('.') ?? ''} ${checked.error.issues[0]?.message ?? ''}`.trim());
      parsed = checked.data;
    } catch (error) {
      // a half-written index is shown as a problem and read again on the next poll
      return { path, status: null, results: null, problems: [`${INDEX_FILE}: ${message(error).replace(real, path)}`] };
    }
    const statesDir = realPathOrNull(join(real, JOB_STATES_DIR));
    if (statesDir !== null && !isInside(realRoot, statesDir)) {
      return { path, status: null, results: null, problems: [`${JOB_STATES_DIR}/ leads outside the runs directory: the sweep is not read`] };
    }
    const jobs: JobIndexEntry[] = [];
    for (const job of parsed.jobs) {
      if (!safeJobName(job.name)) {
        problems.push(`job ${JSON.stringify(job.name)}: not a plain name, not read`);
        continue;
      }
      // a run directory that does not exist yet is a queued job: nothing of it is read
      const runDir = realPathOrNull(job.runDir);
      if (runDir !== null && !isInside(realRoot, runDir)) {
        problems.push(`job ${job.name}: its run directory is outside the runs directory, not read`);
        continue;
      }
      const state = realPathOrNull(jobStatePath(real, job.name));
      if (state !== null && !isInside(realRoot, state)) {
        problems.push(`job ${job.name}: its state file leads outside the runs directory, not read`);
        continue;
      }
      jobs.push({ ...job, runDir: runDir ?? job.runDir });
    }
    // the dashboard never spawns held-out scoring: that is `stitch sweep report`'s job
    const index: JobIndex = {
      format: 'stitch-sweep-index', formatVersion: 1, name: parsed.name, runsDirectory: '', datasetFiles: {}, heldOut: null, jobs,
    };
    let status: SweepStatus | null = null;
    let results: SweepResults | null = null;
    try {
      status = sweepStatus(real, index, (runDir) => this.readMetrics(runDir));
    } catch (error) {
      problems.push(`status: ${message(error)}`);
    }
    try {
      const computed = computeResults(index, (runDir) => this.readMetrics(runDir));
      results = computed.rows.length === 0 ? null : computed;
    } catch (error) {
      // a finished run whose eval.json is unreadable (not a regular file, too large, half-written)
      problems.push(`results: ${message(error).replaceAll(realRoot, '…')}`);
    }
    const view: SweepView = { path, status, results, problems };
    this.readJobs.set(view, jobs);
    return view;
  }
}

export function mountSweepRoutes(app: Hono, sweeps: SweepsDirectory): void {
  app.get('/api/sweeps', (c) => c.json(sweeps.list()));
}
