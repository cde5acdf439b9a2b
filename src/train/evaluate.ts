/**
 * Evaluation of a policy in every evaluation condition (DT: each target return), shared by the
 * training loop and `stitch eval`, so both produce the same numbers from the same weights.
 *
 * The headline score of an evaluation is its FIRST condition's (for DT the first target return,
 * the preset's high target). The best evaluation of a run is the one with the highest headline
 * normalized score (mean return when the task has no reference scores); ties go to the earlier.
 */
import type { CandidateChoice, EvaluationCondition, SequencePolicy } from '../algos/algorithm.js';
import { Rng } from '../engine/rng.js';
import { evaluatePolicy } from '../envs/evaluate.js';

export interface ConditionResult {
  label: string;
  target_return: number | null;
  normalized_score: number | null;
  normalized_std: number | null;
  mean_return: number;
  std_return: number;
  mean_length: number;
  returns: number[];
  lengths: number[];
  /** QT / RVDT: how often each kind of candidate was executed (targets, random rows, the critic row); null otherwise */
  candidate_choices: CandidateChoice[] | null;
}

/** One evaluation: the headline numbers (from the first condition) and every condition's results. */
export interface EvaluationRecord {
  /** training steps completed when the weights were evaluated */
  step: number;
  env: string;
  episodes: number;
  seed: number;
  /** the label of the condition the headline numbers come from */
  headline: string;
  normalized_score: number | null;
  normalized_std: number | null;
  mean_return: number;
  std_return: number;
  conditions: ConditionResult[];
}

export interface EvaluationSettings {
  env: string;
  episodes: number;
  seed: number;
  /** environments stepped side by side (capped at episodes) */
  numEnvs: number;
}

/** where a running evaluation stands (also the heartbeat's `evaluation` block) */
export interface EvaluationProgress {
  /** episodes finished over every condition */
  episodesDone: number;
  /** episodes per condition × conditions */
  episodesTotal: number;
  /** the mean return of the current condition's finished episodes; null before the first */
  meanReturnSoFar: number | null;
  /** from the time per finished episode so far; null before the first */
  etaSeconds: number | null;
  /** the condition being evaluated */
  condition: string;
}

export interface EvaluationHooks {
  /** called as each episode ends */
  onProgress?: (progress: EvaluationProgress) => void;
  /** aborts the evaluation (EvaluationAbortedError) */
  signal?: AbortSignal;
}

/** builds the batched policy of one condition; `rng` is seeded from the evaluation seed */
export type PolicyFactory = (numEnvs: number, condition: EvaluationCondition, rng: Rng) => SequencePolicy;

export async function evaluateConditions(
  step: number,
  conditions: readonly EvaluationCondition[],
  makePolicy: PolicyFactory,
  settings: EvaluationSettings,
  hooks: EvaluationHooks = {},
): Promise<EvaluationRecord> {
  const first = conditions[0];
  if (first === undefined) throw new Error('an algorithm must report at least one evaluation condition');
  const numEnvs = Math.min(settings.episodes, settings.numEnvs);
  const results: ConditionResult[] = [];
  const episodesTotal = settings.episodes * conditions.length;
  const started = performance.now();
  let episodesDone = 0;
  for (const condition of conditions) {
    let conditionReturns = 0;
    let conditionDone = 0;
    const onEpisodeEnd = hooks.onProgress === undefined ? undefined : (_episode: number, episodeReturn: number): void => {
      episodesDone += 1;
      conditionDone += 1;
      conditionReturns += episodeReturn;
      const seconds = (performance.now() - started) / 1000;
      hooks.onProgress?.({
        episodesDone, episodesTotal, meanReturnSoFar: conditionReturns / conditionDone,
        etaSeconds: (seconds / episodesDone) * (episodesTotal - episodesDone), condition: condition.label,
      });
    };
    // every condition starts from the same seed: same start states, so conditions compare fairly
    const policy = makePolicy(numEnvs, condition, new Rng(settings.seed));
    const result = await evaluatePolicy(settings.env, policy, {
      episodes: settings.episodes, seed: settings.seed, numEnvs,
      ...(onEpisodeEnd === undefined ? {} : { onEpisodeEnd }),
      ...(hooks.signal === undefined ? {} : { signal: hooks.signal }),
    });
    results.push({
      label: condition.label,
      target_return: condition.targetReturn ?? null,
      normalized_score: result.normalized_score,
      normalized_std: result.normalized_std,
      mean_return: result.mean_return,
      std_return: result.std_return,
      mean_length: result.mean_length,
      returns: result.returns,
      lengths: result.lengths,
      candidate_choices: policy.candidateChoices?.() ?? null,
    });
  }
  const headline = results[0] as ConditionResult;
  return {
    step,
    env: settings.env,
    episodes: settings.episodes,
    seed: settings.seed,
    headline: headline.label,
    normalized_score: headline.normalized_score,
    normalized_std: headline.normalized_std,
    mean_return: headline.mean_return,
    std_return: headline.std_return,
    conditions: results,
  };
}

function headlineValue(record: EvaluationRecord): number {
  return record.normalized_score ?? record.mean_return;
}

/** the rule for `best`: strictly higher headline score replaces the incumbent */
export function isBetter(candidate: EvaluationRecord, incumbent: EvaluationRecord | null): boolean {
  return incumbent === null || headlineValue(candidate) > headlineValue(incumbent);
}
