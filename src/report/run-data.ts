/**
 * Reads what a run directory holds right now, for the report and the live dashboard. A run may
 * be half-written (a torn last log line, no eval.json yet) or vanish while it is read, so every
 * file is optional and unreadable parts become `problems` instead of errors.
 *
 * A run directory may also be hostile (copied in from elsewhere): only regular files are read
 * (a FIFO or a link to /dev/zero is a problem, not a hang), JSON files are read up to a cap, and
 * the logs are read incrementally with a line-length cap and a bound on the records kept, so the
 * memory a run costs does not grow with the length of its logs. `RunReader` keeps that state
 * between reads and rereads nothing whose size, modification time and inode did not change.
 */
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { z } from 'zod';
import type { EvaluationRecord } from '../train/evaluate.js';
import type { MetricsRecord } from '../train/metrics.js';
import { MAX_PROVENANCE_BYTES, type SessionProvenance } from '../train/provenance.js';
import {
  CONFIG_FILE, EVAL_FILE, EVALUATIONS_JSONL, HEARTBEAT_FILE, HEARTBEAT_STALE_SECONDS, HeartbeatSchema, MAX_HEARTBEAT_BYTES, METRICS_JSONL, processAlive,
  PROVENANCE_FILE, type Heartbeat,
} from '../train/run-files.js';
import { FileReadRefused, IncrementalLineReader, readRegularFile, regularFileStat } from '../util/local-server.js';
import { snakeCaseKeys } from '../util/json-keys.js';
import { REPORT_DATA_FILE, type ReportExtras } from './extras.js';

export const REPORT_FILE = 'report.html';
export { HEARTBEAT_FILE, HEARTBEAT_STALE_SECONDS, type Heartbeat } from '../train/run-files.js';

/**
 * Runs from before heartbeats: no file written for this long means the run died. Longer than the
 * heartbeat's limit because such a trainer writes nothing during an evaluation.
 */
export const NO_HEARTBEAT_STALE_SECONDS = 600;

/** caps on what one run may make a reader hold */
export const RUN_READ_LIMITS = {
  configBytes: 1 << 20,
  evalBytes: 16 << 20,
  reportDataBytes: 64 << 20,
  heartbeatBytes: MAX_HEARTBEAT_BYTES,
  provenanceBytes: MAX_PROVENANCE_BYTES,
  /** a longer log line is skipped as unreadable */
  maxLineBytes: 1 << 20,
  /** log bytes read per refresh; a longer log is read over several refreshes */
  maxLogBytesPerRead: 64 << 20,
  /** metrics records kept: beyond it every other one is dropped (the last is always shown) */
  maxMetricsRecords: 10_000,
  maxEvaluationRecords: 2_000,
};

/** the files whose size, modification time and inode say whether a run changed */
const WATCHED_FILES = [CONFIG_FILE, METRICS_JSONL, EVALUATIONS_JSONL, EVAL_FILE, REPORT_DATA_FILE, REPORT_FILE, HEARTBEAT_FILE, PROVENANCE_FILE];

/**
 * `stale`: the run stopped without ending (killed, crashed, machine gone); `interrupted` and
 * `halted`: it ended early and said so in its heartbeat.
 */
export type RunStatus = 'finished' | 'in progress' | 'stale' | 'interrupted' | 'halted' | 'not a run';

/** eval.json as the trainer writes it (docs/run-format.md) */
export interface FinalEvaluation {
  last: EvaluationRecord;
  best: EvaluationRecord;
  best_rule?: string;
}

/** provenance.json as src/train/provenance.ts writes it; the strings are bounded (the file may be hostile) */
const provenanceSchema = z.object({
  sessions: z.array(z.object({
    kind: z.enum(['start', 'resume']),
    startedAt: z.string().max(64),
    fromStep: z.number(),
    stitchVersion: z.string().max(256),
    gitCommit: z.string().max(128).nullable(),
    commandLine: z.array(z.string().max(65_536)).max(4096).nullable(),
    backend: z.string().max(4096).optional(),
  }) satisfies z.ZodType<SessionProvenance>).max(10_000),
});

/** whether the run is alive, and how that was decided */
export interface RunLiveness {
  /** the heartbeat as read, or null (none, unreadable) */
  heartbeat: Heartbeat | null;
  /** seconds since the heartbeat, or since the newest run file without one */
  ageSeconds: number | null;
  /** why the status is stale, in words */
  reason: string | null;
}

export interface RunSnapshot {
  /** the directory's name */
  name: string;
  status: RunStatus;
  config: Record<string, unknown> | null;
  /** at most RUN_READ_LIMITS.maxMetricsRecords, evenly thinned, the last one included */
  metrics: MetricsRecord[];
  /** records in metrics.jsonl (more than `metrics.length` when thinned) */
  metricsTotal: number;
  evaluations: EvaluationRecord[];
  final: FinalEvaluation | null;
  extras: ReportExtras | null;
  liveness: RunLiveness;
  /** every session that wrote the run (provenance.json), oldest first; empty for older runs */
  provenance: SessionProvenance[];
  /** report.html exists */
  hasReport: boolean;
  /** what could not be read, in words (torn lines, invalid JSON, files that are not regular) */
  problems: string[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Newer files use camelCase keys (`normalizedScore`); the pages read the older snake_case names,
 * so both are read alike. An evaluation record's keys are renamed down to its conditions' own
 * keys (record, conditions array, condition), eval.json's one level more (its last and best).
 */
const EVALUATION_RECORD_DEPTH = 2;

function isMetricsRecord(value: unknown): value is MetricsRecord {
  return isObject(value) && typeof value.step === 'number' && Object.values(value).every((v) => typeof v === 'number');
}

function isEvaluationRecord(value: unknown): value is EvaluationRecord {
  return isObject(value) && typeof value.step === 'number' && typeof value.mean_return === 'number' && Array.isArray(value.conditions);
}

/**
 * Records of a JSON-lines log, read incrementally and thinned to at most `maxKept`: once full,
 * every other kept record is dropped and only every `stride`-th new one is kept, so the records
 * stay evenly spread over the whole log.
 */
class JsonLinesLog<T> {
  private kept: T[] = [];
  private last: T | null = null;
  private stride = 1;
  total = 0;
  skipped = 0;
  private readonly reader: IncrementalLineReader;

  constructor(path: string, private readonly accept: (value: unknown) => T | null, private readonly maxKept: number) {
    this.reader = new IncrementalLineReader(path, { maxLineBytes: RUN_READ_LIMITS.maxLineBytes, maxBytesPerUpdate: RUN_READ_LIMITS.maxLogBytesPerRead },
      (line) => this.add(line), () => this.clear());
  }

  get bytesRead(): number {
    return this.reader.bytesRead;
  }

  private clear(): void {
    this.kept = [];
    this.last = null;
    this.stride = 1;
    this.total = 0;
    this.skipped = 0;
  }

  private add(line: string): void {
    if (line.trim() === '') return;
    const record = this.accept(parseJson(line));
    if (record === null) {
      this.skipped += 1;
      return;
    }
    if (this.total % this.stride === 0) {
      this.kept.push(record);
      if (this.kept.length > this.maxKept) {
        this.kept = this.kept.filter((_, index) => index % 2 === 0);
        this.stride *= 2;
      }
    }
    this.total += 1;
    this.last = record;
  }

  /** reads what was appended */
  update(): 'read' | 'missing' | 'not regular' {
    return this.reader.update();
  }

  records(): T[] {
    if (this.last === null || this.kept[this.kept.length - 1] === this.last) return this.kept.slice();
    return [...this.kept, this.last];
  }

  /** unreadable lines, a torn last line and over-long lines */
  unreadable(): number {
    return this.skipped + this.reader.longLines + (this.reader.hasPartialLine() ? 1 : 0);
  }
}

function toMetricsRecord(value: unknown): MetricsRecord | null {
  const record = snakeCaseKeys(value, 0);
  return isMetricsRecord(record) ? record : null;
}

function toEvaluationRecord(value: unknown): EvaluationRecord | null {
  const record = snakeCaseKeys(value, EVALUATION_RECORD_DEPTH);
  return isEvaluationRecord(record) ? record : null;
}

/** a JSON object file, parsed again only when its size, mtime or inode changed */
class JsonObjectFile {
  private key = '';
  private value: Record<string, unknown> | null = null;
  private problem: string | null = null;

  constructor(private readonly path: string, private readonly maxBytes: number) {}

  read(problems: string[]): Record<string, unknown> | null {
    const stat = regularFileStat(this.path);
    const key = stat === null ? 'none' : `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    if (key !== this.key) {
      this.key = key;
      this.value = null;
      this.problem = null;
      try {
        const value = parseJson(readRegularFile(this.path, this.maxBytes).toString('utf8'));
        if (isObject(value)) this.value = value;
        else this.problem = `${basename(this.path)}: not a JSON object (half-written?)`;
      } catch (error) {
        // missing is normal (not written yet); anything else is worth saying
        if (error instanceof FileReadRefused) this.problem = error.message.replace(this.path, basename(this.path));
      }
    }
    if (this.problem !== null) problems.push(this.problem);
    return this.value;
  }
}

/** A run directory read again and again (the dashboard); each read costs only what changed. */
export class RunReader {
  private readonly config: JsonObjectFile;
  private readonly evalFile: JsonObjectFile;
  private readonly reportData: JsonObjectFile;
  private readonly heartbeat: JsonObjectFile;
  private readonly provenance: JsonObjectFile;
  private readonly metrics: JsonLinesLog<MetricsRecord>;
  private readonly evaluations: JsonLinesLog<EvaluationRecord>;
  private cachedKey = '';
  private cachedSnapshot: RunSnapshot | null = null;
  private cachedJson: string | null = null;

  constructor(readonly runDir: string) {
    this.config = new JsonObjectFile(join(runDir, CONFIG_FILE), RUN_READ_LIMITS.configBytes);
    this.evalFile = new JsonObjectFile(join(runDir, EVAL_FILE), RUN_READ_LIMITS.evalBytes);
    this.reportData = new JsonObjectFile(join(runDir, REPORT_DATA_FILE), RUN_READ_LIMITS.reportDataBytes);
    this.heartbeat = new JsonObjectFile(join(runDir, HEARTBEAT_FILE), RUN_READ_LIMITS.heartbeatBytes);
    this.provenance = new JsonObjectFile(join(runDir, PROVENANCE_FILE), RUN_READ_LIMITS.provenanceBytes);
    this.metrics = new JsonLinesLog(join(runDir, METRICS_JSONL), toMetricsRecord, RUN_READ_LIMITS.maxMetricsRecords);
    this.evaluations = new JsonLinesLog(join(runDir, EVALUATIONS_JSONL), toEvaluationRecord, RUN_READ_LIMITS.maxEvaluationRecords);
  }

  /** log bytes read from disk so far (an unchanged log is not read again) */
  get logBytesRead(): number {
    return this.metrics.bytesRead + this.evaluations.bytesRead;
  }

  /** size, modification time and inode of every watched file */
  private changeKey(): { files: string; newestMtimeMs: number } {
    let newestMtimeMs = 0;
    const files = WATCHED_FILES.map((name) => {
      const stat = regularFileStat(join(this.runDir, name));
      if (stat === null) return '-';
      newestMtimeMs = Math.max(newestMtimeMs, stat.mtimeMs);
      return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    }).join('|');
    return { files, newestMtimeMs };
  }

  /**
   * The run as it is now; the same object as last time when no file changed and the status
   * (which can change with time alone: a run goes stale) is the same.
   */
  snapshot(now = Date.now()): RunSnapshot {
    const { files, newestMtimeMs } = this.changeKey();
    const cached = this.cachedSnapshot;
    if (cached !== null && files === this.cachedKey) {
      const { status } = decideStatus(cached.config !== null, cached.final !== null, cached.liveness.heartbeat, newestMtimeMs, now);
      if (status === cached.status) return cached;
    }
    this.cachedKey = files;
    this.cachedJson = null;
    this.cachedSnapshot = this.read(now, newestMtimeMs);
    return this.cachedSnapshot;
  }

  /** the snapshot as JSON, serialized once per change however many clients ask */
  snapshotJson(now = Date.now()): string {
    const snapshot = this.snapshot(now);
    this.cachedJson ??= JSON.stringify(snapshot);
    return this.cachedJson;
  }

  private read(now: number, newestMtimeMs: number): RunSnapshot {
    const problems: string[] = [];
    const config = this.config.read(problems);
    for (const [log, name] of [[this.metrics, METRICS_JSONL], [this.evaluations, EVALUATIONS_JSONL]] as const) {
      if (log.update() === 'not regular') problems.push(`${name}: not a regular file; not read`);
      if (log.unreadable() > 0) problems.push(`${name}: ${log.unreadable()} unreadable line(s) skipped`);
    }
    const rawEval = this.evalFile.read(problems);
    const evalFile = rawEval === null ? null : snakeCaseKeys(rawEval, EVALUATION_RECORD_DEPTH + 1) as Record<string, unknown>;
    const final = evalFile !== null && isEvaluationRecord(evalFile.last) && isEvaluationRecord(evalFile.best)
      ? { last: evalFile.last, best: evalFile.best, ...(typeof evalFile.best_rule === 'string' ? { best_rule: evalFile.best_rule } : {}) }
      : null;
    const extrasFile = this.reportData.read(problems);
    const extras = extrasFile !== null && extrasFile.format === 'stitch-report-data' ? (extrasFile as unknown as ReportExtras) : null;
    const rawHeartbeat = this.heartbeat.read(problems);
    const parsedHeartbeat = rawHeartbeat === null ? null : HeartbeatSchema.safeParse(rawHeartbeat);
    if (parsedHeartbeat?.success === false) problems.push(`${HEARTBEAT_FILE}: not a heartbeat record`);
    const heartbeat = parsedHeartbeat?.success === true ? parsedHeartbeat.data : null;
    const rawProvenance = this.provenance.read(problems);
    const parsedProvenance = rawProvenance === null ? null : provenanceSchema.safeParse(rawProvenance);
    if (parsedProvenance?.success === false) problems.push(`${PROVENANCE_FILE}: not a provenance record`);
    const { status, liveness } = decideStatus(config !== null, final !== null, heartbeat, newestMtimeMs, now);
    return {
      name: basename(this.runDir),
      status,
      config,
      metrics: this.metrics.records(),
      metricsTotal: this.metrics.total,
      evaluations: this.evaluations.records(),
      final,
      extras,
      liveness,
      provenance: parsedProvenance?.success === true ? parsedProvenance.data.sessions : [],
      hasReport: regularFileStat(join(this.runDir, REPORT_FILE)) !== null,
      problems,
    };
  }
}

/**
 * A run with eval.json or a final heartbeat has ended; otherwise it is alive while its heartbeat
 * is recent and its process (on this host) exists, or, without a heartbeat, while its files are
 * written.
 */
function decideStatus(isRun: boolean, hasFinal: boolean, heartbeat: Heartbeat | null, newestMtimeMs: number, now: number): { status: RunStatus; liveness: RunLiveness } {
  const none: RunLiveness = { heartbeat, ageSeconds: null, reason: null };
  if (!isRun) return { status: 'not a run', liveness: none };
  if (heartbeat !== null) {
    const updated = Date.parse(heartbeat.updatedAt);
    const ageSeconds = Number.isFinite(updated) ? Math.max(0, (now - updated) / 1000) : null;
    const liveness: RunLiveness = { heartbeat, ageSeconds, reason: null };
    if (hasFinal || heartbeat.phase === 'finished') return { status: 'finished', liveness };
    if (heartbeat.phase === 'interrupted' || heartbeat.phase === 'halted') return { status: heartbeat.phase, liveness };
    if (heartbeat.hostname === hostname() && !processAlive(heartbeat.pid)) {
      return { status: 'stale', liveness: { ...liveness, reason: `its process ${heartbeat.pid} is gone` } };
    }
    if (ageSeconds === null || ageSeconds > HEARTBEAT_STALE_SECONDS) {
      return { status: 'stale', liveness: { ...liveness, reason: ageSeconds === null ? 'its heartbeat has no valid time' : `no heartbeat for ${Math.round(ageSeconds)} s` } };
    }
    return { status: 'in progress', liveness };
  }
  if (hasFinal) return { status: 'finished', liveness: none };
  const ageSeconds = newestMtimeMs > 0 ? Math.max(0, (now - newestMtimeMs) / 1000) : null;
  if (ageSeconds !== null && ageSeconds > NO_HEARTBEAT_STALE_SECONDS) {
    return { status: 'stale', liveness: { heartbeat: null, ageSeconds, reason: `no heartbeat, and no file written for ${Math.round(ageSeconds / 60)} min` } };
  }
  return { status: 'in progress', liveness: { heartbeat: null, ageSeconds, reason: null } };
}

/** one reading of a run directory (the report, a comparison) */
export function readRunSnapshot(runDir: string): RunSnapshot {
  return new RunReader(runDir).snapshot();
}
