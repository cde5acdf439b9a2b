/**
 * Evaluation beside training (`evalWorker`): a worker thread evaluates a snapshot of the weights
 * (the policy file's bytes) while the training thread goes on with the next steps. On two cores a
 * one-thread training step leaves the second core nearly idle, so the evaluations cost little wall
 * time. One evaluation is in flight at a time; the trainer waits for it before starting the next,
 * so records arrive in step order.
 *
 * The worker restores the policy file and evaluates it as `stitch eval` does, which is what the
 * training thread computes from the same weights (the evaluation depends only on the weights and
 * the evaluation seed; tested). Training and evaluation take one thread each out of the run's
 * count (OpenBLAS's thread count is per process, so with the native backend each kernel call of
 * either runs on the training's count; on two cores both run on one). The worker starts before the
 * first step, so a run trains on one thread count throughout: `--threads T --eval-worker` trains
 * exactly as `--threads T-1` without it.
 */
import { Worker } from 'node:worker_threads';
import { backend } from '../engine/index.js';
import { EvaluationAbortedError } from '../envs/evaluate.js';
import type { EvaluationProgress, EvaluationRecord, EvaluationSettings } from './evaluate.js';
import type { EvaluationReply, EvaluationRequest } from './evaluation-worker.js';

interface Running {
  step: number;
  resolve: (record: EvaluationRecord) => void;
  reject: (error: Error) => void;
}

export class BackgroundEvaluator {
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private running: Running | null = null;

  /** `onProgress`: each finished episode of the evaluation in flight */
  constructor(private readonly onProgress: (step: number, progress: EvaluationProgress) => void) {}

  /** the CPU backend the worker evaluates on: the run's, or auto's choice when the run trains on a GPU */
  private static workerEnvironment(): Record<string, string> {
    const environment: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (value !== undefined) environment[key] = value;
    if (environment.STITCH_BACKEND === 'webgpu') environment.STITCH_BACKEND = 'auto';
    environment.STITCH_THREADS = '1';
    return environment;
  }

  /** starts the worker (call it before the first step, after reserveEvaluationThread) */
  start(): Promise<void> {
    if (this.ready !== null) return this.ready;
    const trainingThreads = backend().threads();
    const worker = new Worker(new URL('./evaluation-worker.js', import.meta.url), { env: BackgroundEvaluator.workerEnvironment() });
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (reply: EvaluationReply) => {
        if (reply.kind === 'ready') {
          // the worker's native addon set the process-wide BLAS thread count to its own: the training's again
          if (backend().name !== 'webgpu') backend().setThreads(trainingThreads);
          resolve();
          return;
        }
        const running = this.running;
        if (running === null || reply.step !== running.step) return;
        if (reply.kind === 'progress') this.onProgress(reply.step, reply.progress);
        else if (reply.kind === 'done') {
          this.running = null;
          running.resolve(reply.record);
        } else {
          this.running = null;
          running.reject(new Error(`the evaluation of step ${reply.step} failed in its worker thread: ${reply.message}`));
        }
      });
      worker.on('error', (error) => {
        reject(error);
        this.fail(error);
      });
      worker.on('exit', (code) => {
        const error = new Error(`the evaluation worker thread exited (code ${code})`);
        reject(error);
        this.fail(error);
      });
    });
    return this.ready;
  }

  private fail(error: Error): void {
    const running = this.running;
    this.running = null;
    running?.reject(error);
  }

  /** evaluates the policy file `bytes` (the weights after `step` steps); one at a time */
  async evaluate(step: number, bytes: Uint8Array, settings: EvaluationSettings, signal?: AbortSignal): Promise<EvaluationRecord> {
    if (this.running !== null) throw new Error(`an evaluation (step ${this.running.step}) is already in flight`);
    await this.start();
    const worker = this.worker as Worker;
    return new Promise<EvaluationRecord>((resolve, reject) => {
      const onAbort = (): void => {
        // the worker cannot be interrupted mid-episode from here: a new one starts for the next evaluation
        this.running = null;
        void this.terminate();
        reject(new EvaluationAbortedError());
      };
      if (signal?.aborted === true) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = <T>(then: (value: T) => void) => (value: T): void => {
        signal?.removeEventListener('abort', onAbort);
        then(value);
      };
      this.running = { step, resolve: settle(resolve), reject: settle(reject) };
      const request: EvaluationRequest = { step, bytes, settings };
      worker.postMessage(request);
    });
  }

  /** stops the worker (an evaluation in flight is dropped) */
  async terminate(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.ready = null;
    if (worker === null) return;
    worker.removeAllListeners();
    await worker.terminate();
  }
}

/**
 * The training's share of the threads while a worker evaluates beside it: one fewer (at least
 * one). Returns the function that gives the thread back. Called before the session's backend is
 * recorded in provenance.json, so the record names the count the steps ran on.
 */
export function reserveEvaluationThread(): () => void {
  const training = backend();
  if (training.name === 'webgpu') return () => undefined;
  const before = training.threads();
  training.setThreads(Math.max(1, before - 1));
  return () => training.setThreads(before);
}
