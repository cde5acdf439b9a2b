import { Rng } from '../engine/rng.js';
import { spaceSize } from './env.js';
import type { VectorPolicy } from './policies.js';
import { envSpec, makeVectorEnv } from './registry.js';
import { hasReferenceScores, normalizedScore, normalizedStd } from './scores.js';

export interface EvaluationOptions {
  episodes: number;
  seed?: number;
  /** environments stepped side by side (default min(episodes, 32)) */
  numEnvs?: number;
  /** keep each episode's [x, y, ...] observations (for drawing) */
  recordObservations?: boolean;
  /** called as each episode ends (in the order they end), for progress displays */
  onEpisodeEnd?: (episode: number, episodeReturn: number, length: number) => void;
  /** checked between batches of steps: when aborted, evaluation stops with EvaluationAbortedError */
  signal?: AbortSignal;
}

/** the evaluation's signal was aborted (an interrupted training run) */
export class EvaluationAbortedError extends Error {
  constructor() {
    super('evaluation aborted');
    this.name = 'EvaluationAbortedError';
  }
}

/** how long evaluation steps before it yields to the event loop, so signals and timers are seen */
const YIELD_MS = 100;

export interface EvaluationResult {
  envId: string;
  episodes: number;
  returns: number[];
  lengths: number[];
  mean_return: number;
  /** population standard deviation (numpy's default), as D4RL-style reports use */
  std_return: number;
  mean_length: number;
  normalized_score: number | null;
  normalized_std: number | null;
  /** per episode, its observations [T + 1, obsDim] including the first one, when recorded */
  observations?: Float64Array[];
}

/**
 * Runs exactly `episodes` episodes with a batched policy. Environments that finish start the next
 * pending episode; when none is left they stay done. Episode k always uses the same reset seed
 * and policy seed, so the result does not depend on numEnvs.
 */
export async function evaluatePolicy(envId: string, policy: VectorPolicy, options: EvaluationOptions): Promise<EvaluationResult> {
  const { episodes } = options;
  if (!Number.isInteger(episodes) || episodes < 1) throw new RangeError(`episodes must be a positive integer (got ${episodes})`);
  const spec = envSpec(envId);
  const numEnvs = Math.min(episodes, options.numEnvs ?? 32);
  const seeds = new Rng(options.seed ?? 0);
  const envSeeds: number[] = [];
  const policySeeds: number[] = [];
  for (let k = 0; k < episodes; k++) {
    envSeeds.push(seeds.nextUint32());
    policySeeds.push(seeds.nextUint32());
  }
  const vec = await makeVectorEnv(envId, numEnvs);
  const obsDim = spaceSize(vec.observationSpace);
  const returns = new Array<number>(episodes).fill(0);
  const lengths = new Array<number>(episodes).fill(0);
  const recorded: number[][] = [];
  const episodeOf = new Int32Array(numEnvs);
  const active = new Uint8Array(numEnvs);
  const actions = new Float32Array(numEnvs * spec.actionDim);
  let observations: Float64Array = new Float64Array(numEnvs * obsDim);
  let nextEpisode = 0;
  const startEpisode = (i: number): void => {
    const k = nextEpisode++;
    episodeOf[i] = k;
    active[i] = 1;
    const first = vec.resetEnv(i, envSeeds[k]);
    observations.set(first, i * obsDim);
    if (options.recordObservations === true) recorded[k] = Array.from(first);
    policy.beginEpisode(i, k, policySeeds[k] as number);
  };
  let lastYield = performance.now();
  try {
    for (let i = 0; i < numEnvs; i++) startEpisode(i);
    while (active.includes(1)) {
      if (performance.now() - lastYield > YIELD_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
      if (options.signal?.aborted === true) throw new EvaluationAbortedError();
      policy.act(observations, active, actions);
      const result = vec.step(actions);
      observations = result.observations;
      // before any finished environment starts its next episode, so the reward reaches the right history
      policy.observeRewards?.(result.rewards, result.active);
      for (let i = 0; i < numEnvs; i++) {
        if (result.active[i] !== 1) continue;
        const k = episodeOf[i] as number;
        returns[k] = (returns[k] as number) + (result.rewards[i] as number);
        lengths[k] = (lengths[k] as number) + 1;
        if (options.recordObservations === true) recorded[k]?.push(...observations.subarray(i * obsDim, (i + 1) * obsDim));
        if (result.terminated[i] === 1 || result.truncated[i] === 1) {
          options.onEpisodeEnd?.(k, returns[k] as number, lengths[k] as number);
          if (nextEpisode < episodes) startEpisode(i);
          else active[i] = 0;
        }
      }
    }
  } finally {
    vec.close();
  }
  const mean = returns.reduce((a, b) => a + b, 0) / episodes;
  const std = Math.sqrt(returns.reduce((a, r) => a + (r - mean) ** 2, 0) / episodes);
  const known = hasReferenceScores(envId);
  return {
    envId,
    episodes,
    returns,
    lengths,
    mean_return: mean,
    std_return: std,
    mean_length: lengths.reduce((a, b) => a + b, 0) / episodes,
    normalized_score: known ? normalizedScore(envId, mean) : null,
    normalized_std: known ? normalizedStd(envId, std) : null,
    ...(options.recordObservations === true ? { observations: recorded.map((row) => Float64Array.from(row)) } : {}),
  };
}
