/**
 * `RUN_DIR/heartbeat.json`: where an active run stands, for the dashboard. Rewritten atomically
 * at most every 2 s while the run works, and once more (whatever the interval) on every change
 * of phase and at the end, so a heartbeat older than HEARTBEAT_STALE_SECONDS in a non-final phase
 * means the process crashed or hangs (docs/run-format.md).
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import { HEARTBEAT_FILE, type Heartbeat, type HeartbeatPhase } from './run-files.js';

export const HEARTBEAT_INTERVAL_MS = 2000;

/** the heartbeat's `evaluation` block */
export type HeartbeatEvaluation = NonNullable<Heartbeat['evaluation']>;

export class HeartbeatWriter {
  private lastWrite = Number.NEGATIVE_INFINITY;
  private lastPhase: HeartbeatPhase | null = null;

  constructor(private readonly runDir: string, private readonly steps: number) {}

  /**
   * Writes the heartbeat when the phase changed, `force` is set or the interval has passed.
   * A failed write is left to the next one: the heartbeat is a hint, never worth stopping a run.
   */
  beat(phase: HeartbeatPhase, step: number, evaluation: HeartbeatEvaluation | null = null, force = false): void {
    const now = performance.now();
    if (!force && phase === this.lastPhase && now - this.lastWrite < HEARTBEAT_INTERVAL_MS) return;
    const heartbeat: Heartbeat = {
      pid: process.pid, hostname: hostname(), updatedAt: new Date().toISOString(), phase, step, steps: this.steps, evaluation,
    };
    try {
      writeFileAtomic(join(this.runDir, HEARTBEAT_FILE), `${JSON.stringify(heartbeat)}\n`);
      this.lastWrite = now;
      this.lastPhase = phase;
    } catch {
      // a full disk shows up on the next log or checkpoint write, with its own message
    }
  }
}
