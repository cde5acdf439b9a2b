/**
 * Training progress on stderr: one line redrawn in place on a terminal, or plain lines (at most
 * one every few seconds) when stderr is not a terminal or the CI variable is set, so logs stay readable.
 */
import type { EvaluationProgress } from './evaluate.js';

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

const REDRAW_MS = 100;
const PLAIN_LINE_MS = 5000;

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
}

export class Progress {
  private readonly interactive: boolean;
  private readonly sessionStart = performance.now();
  private lastDraw = Number.NEGATIVE_INFINITY;
  private drawn = false;

  constructor(
    private readonly stream: ProgressStream,
    private readonly totalSteps: number,
    private readonly firstStep: number,
    options: { interactive?: boolean } = {},
  ) {
    this.interactive = options.interactive ?? (stream.isTTY === true && (process.env.CI ?? '') === '');
  }

  /** after each update; redraws only as often as is readable */
  update(step: number, lossName: string, loss: number): void {
    const now = performance.now();
    const final = step === this.totalSteps;
    if (!final && now - this.lastDraw < (this.interactive ? REDRAW_MS : PLAIN_LINE_MS)) return;
    this.lastDraw = now;
    const seconds = (now - this.sessionStart) / 1000;
    const rate = (step - this.firstStep) / seconds;
    const eta = (this.totalSteps - step) / rate;
    const width = String(this.totalSteps).length;
    const line = `step ${String(step).padStart(width)}/${this.totalSteps}  ${rate.toFixed(1)} steps/s  ${lossName} ${loss.toPrecision(4)}  ETA ${formatDuration(eta)}`;
    if (this.interactive) {
      this.stream.write(`\r\x1b[2K${line}`);
      this.drawn = true;
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  /**
   * Evaluation progress, under the same rules as the step line (redrawn on a terminal, a plain
   * line at most every few seconds otherwise; the last episode always shows).
   */
  evaluation(step: number | null, progress: EvaluationProgress): void {
    const now = performance.now();
    const final = progress.episodesDone === progress.episodesTotal;
    if (!final && now - this.lastDraw < (this.interactive ? REDRAW_MS : PLAIN_LINE_MS)) return;
    this.lastDraw = now;
    const mean = progress.meanReturnSoFar === null ? '' : `  ${progress.condition}: mean return ${progress.meanReturnSoFar.toFixed(2)} so far`;
    const eta = progress.etaSeconds === null ? '' : `  ETA ${formatDuration(progress.etaSeconds)}`;
    const line = `${step === null ? 'eval' : `eval step ${step}`}: ${progress.episodesDone}/${progress.episodesTotal} episodes${mean}${eta}`;
    if (this.interactive) {
      this.stream.write(`\r\x1b[2K${line}`);
      this.drawn = true;
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  /** a message on its own line (evaluations, checkpoints), keeping the progress line below it */
  message(text: string): void {
    if (this.interactive && this.drawn) this.stream.write('\r\x1b[2K');
    this.stream.write(`${text}\n`);
    this.drawn = false;
    this.lastDraw = Number.NEGATIVE_INFINITY;
  }

  finish(): void {
    if (this.interactive && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
