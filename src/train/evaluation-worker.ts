/**
 * The worker thread of a run's background evaluations (`evalWorker`, background-evaluation.ts):
 * it restores each policy file it is sent and evaluates it exactly as `stitch eval` does (the same
 * episodes and seeds), so the record equals the one the training thread would have computed from
 * the same weights. Its backend and thread count come from its environment (STITCH_BACKEND,
 * STITCH_THREADS), which the training thread sets when it starts the worker.
 */
import { parentPort } from 'node:worker_threads';
import { policyFromBytes } from '../deploy/policy.js';
import { backend } from '../engine/index.js';
import { evaluateConditions, type EvaluationProgress, type EvaluationRecord, type EvaluationSettings } from './evaluate.js';

/** what the training thread sends: one evaluation */
export interface EvaluationRequest {
  step: number;
  bytes: Uint8Array;
  settings: EvaluationSettings;
}

/** what the worker answers */
export type EvaluationReply =
  | { kind: 'ready'; backend: string }
  | { kind: 'progress'; step: number; progress: EvaluationProgress }
  | { kind: 'done'; step: number; record: EvaluationRecord }
  | { kind: 'failed'; step: number; message: string };

const port = parentPort;
if (port === null) throw new Error('evaluation-worker.js runs as a worker thread (background-evaluation.ts starts it)');

const reply = (message: EvaluationReply): void => port.postMessage(message);

port.on('message', (request: EvaluationRequest) => {
  const { step, bytes, settings } = request;
  const evaluate = async (): Promise<void> => {
    const policy = policyFromBytes(bytes, {}, `the weights of step ${step}`);
    const record = await evaluateConditions(step, policy.conditions, (n, condition, rng) => policy.createVectorPolicy(n, condition, rng), settings, {
      onProgress: (progress) => reply({ kind: 'progress', step, progress }),
    });
    reply({ kind: 'done', step, record });
  };
  evaluate().catch((error: unknown) => reply({ kind: 'failed', step, message: error instanceof Error ? error.message : String(error) }));
});

// choosing the backend now makes its start-up (loading the addon or compiling the module) part of the worker's
reply({ kind: 'ready', backend: backend().name });
