/**
 * The Stitch package API for Node: load a trained policy file and act with it, evaluate policies
 * in the registered tasks, and run training from code.
 */
export { loadPolicy, type PolicySource } from './deploy/node.js';
export { ActingSettingsError, Policy, policyFromBytes, type ActingOverrides, type LoadPolicyOptions, type PolicyHeader } from './deploy/index.js';
export { heldOutActionError, type HeldOutActionError, type HeldOutOptions } from './train/offline-eval.js';
export { evaluateConditions, type ConditionResult, type EvaluationRecord } from './train/evaluate.js';
export { resolveRunConfig, type RunConfig, type RunRequest } from './train/config.js';
export { startRun, resumeRun, readRunConfig, RunInterruptedError, RunStoppedError, type TrainOutcome } from './train/trainer.js';
export { readHeartbeat, isHeartbeatStale, type Heartbeat } from './train/run-files.js';
export { algorithmNames } from './algos/registry.js';
export type { EvaluationCondition, SequencePolicy } from './algos/algorithm.js';
export { envIds, envSpec, makeEnv, makeVectorEnv } from './envs/registry.js';
export { evaluatePolicy, type EvaluationResult } from './envs/evaluate.js';
export { Rng } from './engine/rng.js';
