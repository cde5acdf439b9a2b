/**
 * The window sampler's settings for an algorithm, shared by training and offline evaluation so
 * both read windows under the same rules: the definition's sampling rules (QT's start rule
 * switches on the dataset id), the config's context length, returns-to-go from the rewards after
 * the algorithm's reward transform divided by its return scale, and the given state statistics.
 */
import type { AnyAlgorithmDefinition } from '../algos/algorithm.js';
import { returnsToGo, transformRewards, type StateStatistics } from '../data/preprocess.js';
import { samplingRulesFor, type WindowSamplerOptions } from '../data/sampler.js';
import type { TrajectoryStore } from '../data/store.js';

/**
 * `statistics`: the states' normalization (training: the store's own; offline evaluation: the
 * training data's, from the policy file). Throws RangeError for an invalid return scale.
 */
export function algorithmSamplerOptions(
  definition: AnyAlgorithmDefinition,
  config: { batchSize: number; steps: number; context: number },
  datasetId: string,
  store: TrajectoryStore,
  statistics: StateStatistics,
  batchSize = config.batchSize,
): WindowSamplerOptions {
  const transform = definition.rewardTransform?.(config) ?? 'none';
  // returns-to-go and the rewards of the batches (QT's critic targets) both see the transformed rewards
  const rewards = transform === 'none' ? store.rewards : transformRewards(store.rewards, transform);
  return {
    ...samplingRulesFor(definition.sampler, datasetId),
    batchSize,
    contextLength: config.context,
    returnsToGo: returnsToGo(store, { rewards, scale: definition.returnScale(config) }),
    rewards,
    stateStatistics: statistics,
  };
}
