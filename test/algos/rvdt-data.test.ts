/**
 * RDT/RVDT data plumbing: the expert subset (fraction and threshold rules) and what `prepare`
 * reports, the sampler's episode weights for `dup` (a seeded statistical test), and the variant
 * configs (names ↔ components, conflicts, presets, re-parsing a saved config).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RDT_PRESETS, RdtConfigSchema, rdtAlgorithm } from '../../src/algos/rdt.js';
import { prepareRebalancing } from '../../src/algos/parts/rebalancing.js';
import { RvdtConfigSchema, rvdtAlgorithm } from '../../src/algos/rvdt.js';
import { QT_PRESETS } from '../../src/algos/qt.js';
import { returnsToGo, selectExpertSubset } from '../../src/data/preprocess.js';
import { samplingRulesFor, WindowSampler } from '../../src/data/sampler.js';
import { segmentEpisodes, TrajectoryStore } from '../../src/data/store.js';
import { Rng } from '../../src/engine/index.js';
import { syntheticArrays } from '../data/helpers.js';

/** episodes of lengths 10, 20, 30, 40 with returns 50, 20, 30, 40 (reward spread evenly over the steps) */
function fourEpisodes(): TrajectoryStore {
  const lengths = [10, 20, 30, 40];
  const returns = [50, 20, 30, 40];
  const arrays = syntheticArrays(lengths);
  let row = 0;
  lengths.forEach((length, e) => {
    for (let t = 0; t < length; t++) arrays.rewards[row++] = (returns[e] as number) / length;
  });
  return TrajectoryStore.fromArrays(arrays, segmentEpisodes(arrays.terminals, arrays.timeouts));
}

describe('expert subset', () => {
  it('keeps the top fraction of trajectories by return and counts their transitions', () => {
    const store = fourEpisodes();
    const top = selectExpertSubset(store, { fraction: 0.5 });
    assert.deepEqual(Array.from(top.episodes), [0, 3]);
    assert.deepEqual(Array.from(top.isExpert), [1, 0, 0, 1]);
    assert.equal(top.transitions, 50);
    assert.ok(Math.abs(top.threshold - 40) < 1e-4);
  });

  it('keeps every trajectory reaching a return threshold, and refuses a threshold no trajectory reaches', () => {
    const store = fourEpisodes();
    const subset = selectExpertSubset(store, { threshold: 29.5 });
    assert.deepEqual(Array.from(subset.episodes), [0, 3, 2]);
    assert.equal(subset.transitions, 80);
    assert.throws(() => selectExpertSubset(store, { threshold: 51 }), /no trajectory reaches the expert threshold 51 \(best return 50/);
    assert.throws(() => selectExpertSubset(store, { threshold: Number.NaN }), /finite/);
  });

  it('prepare reports the subset in the run metadata and gives sampler weights only for dup', () => {
    const store = fourEpisodes();
    const kl = prepareRebalancing(store, RdtConfigSchema.parse({ expertFraction: 0.25, alpha: 2 }));
    assert.deepEqual(Array.from(kl.expertEpisodes ?? []), [1, 0, 0, 0]);
    assert.equal(kl.samplerEpisodeWeights, undefined);
    assert.deepEqual(kl.metadata, {
      expert_rule: 'top-fraction', expert_fraction: 0.25, expert_trajectories: 1, expert_transitions: 10, trajectories: 4,
      transitions: 100, expert_min_return: kl.metadata.expert_min_return, expert_draw_share: 0.1, rebalance: 'kl', alpha: 2,
    });
    assert.ok(Math.abs((kl.metadata.expert_min_return as number) - 50) < 1e-4);

    const dup = prepareRebalancing(store, RvdtConfigSchema.parse({ variant: 'rvdt-dup', expertThreshold: 35, alpha: 2 }));
    assert.deepEqual(Array.from(dup.samplerEpisodeWeights ?? []), [3, 1, 1, 3]);
    assert.equal(dup.metadata.expert_rule, 'return-threshold');
    assert.equal(dup.metadata.expert_threshold, 35);
    assert.equal(dup.metadata.expert_fraction, undefined);
    assert.equal(dup.metadata.expert_trajectories, 2);
    assert.equal(dup.metadata.expert_transitions, 50);
    // 3·50 expert draws against 50 others
    assert.equal(dup.metadata.expert_draw_share, 0.75);
  });
});

describe('sampler episode weights (dup)', () => {
  const rules = { ...samplingRulesFor('qt'), batchSize: 500, contextLength: 4 };

  function frequencies(store: TrajectoryStore, episodeWeights: Float64Array | undefined, batches: number): number[] {
    const sampler = new WindowSampler(store, { ...rules, returnsToGo: returnsToGo(store), ...(episodeWeights === undefined ? {} : { episodeWeights }) }, new Rng(7));
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < batches; i++) for (const episode of sampler.sample().episodes) counts[episode] = (counts[episode] as number) + 1;
    return counts.map((c) => c / (batches * rules.batchSize));
  }

  it('draws trajectory i with probability ∝ w_i · L_i (20 000 seeded draws, within 5 standard errors)', () => {
    const store = fourEpisodes();
    const draws = 40 * rules.batchSize;
    const check = (observed: number[], expected: number[]): void => {
      expected.forEach((p, e) => {
        const standardError = Math.sqrt((p * (1 - p)) / draws);
        assert.ok(Math.abs((observed[e] as number) - p) < 5 * standardError, `episode ${e}: ${observed[e]} vs ${p}`);
      });
    };
    // expert = the shortest episode, duplicated twice more (α = 2): weights 3·10, 20, 30, 40 of 120
    check(frequencies(store, Float64Array.of(3, 1, 1, 1), 40), [0.25, 20 / 120, 0.25, 40 / 120]);
    check(frequencies(store, undefined, 40), [0.1, 0.2, 0.3, 0.4]);
  });

  it('with every weight 1 draws exactly the unweighted windows; weights are refused for other samplers and when malformed', () => {
    const store = fourEpisodes();
    const options = { ...rules, returnsToGo: returnsToGo(store) };
    const plain = new WindowSampler(store, options, new Rng(3)).sample();
    const plainEpisodes = Array.from(plain.episodes);
    const plainStarts = Array.from(plain.starts);
    const ones = new WindowSampler(store, { ...options, episodeWeights: new Float64Array(4).fill(1) }, new Rng(3)).sample();
    assert.deepEqual(Array.from(ones.episodes), plainEpisodes);
    assert.deepEqual(Array.from(ones.starts), plainStarts);
    const reinformerRules = { ...samplingRulesFor('reinformer'), batchSize: 2, contextLength: 4, returnsToGo: returnsToGo(store) };
    assert.throws(() => new WindowSampler(store, { ...reinformerRules, episodeWeights: new Float64Array(4).fill(1) }, new Rng(1)), /length-weighted sampling only/);
    assert.throws(() => new WindowSampler(store, { ...options, episodeWeights: new Float64Array(3).fill(1) }, new Rng(1)), /3 values for 4 episodes/);
    assert.throws(() => new WindowSampler(store, { ...options, episodeWeights: Float64Array.of(1, -1, 1, 1) }, new Rng(1)), /episodeWeights\[1\]/);
    assert.throws(() => new WindowSampler(store, { ...options, episodeWeights: new Float64Array(4) }, new Rng(1)), /zero weight/);
  });
});

describe('variant configs', () => {
  it('name the ablation columns: a variant sets its components, components name their variant', () => {
    const rdt = RdtConfigSchema.parse({});
    assert.deepEqual([rdt.variant, rdt.rebalance, rdt.policy, rdt.alpha, rdt.klNormalization, rdt.expertFraction, rdt.expertThreshold], ['rdt', 'kl', 'stochastic', 1, 'pooled', 0.1, null]);
    const columns: Array<[typeof RdtConfigSchema | typeof RvdtConfigSchema, string, string, string]> = [
      [RdtConfigSchema, 'qt-bc', 'none', 'deterministic'],
      [RdtConfigSchema, 'dt-dup', 'dup', 'stochastic'],
      [RdtConfigSchema, 'rdt', 'kl', 'stochastic'],
      [RvdtConfigSchema, 'qt', 'none', 'deterministic'],
      [RvdtConfigSchema, 'vdt', 'none', 'stochastic'],
      [RvdtConfigSchema, 'rvdt-dup', 'dup', 'stochastic'],
      [RvdtConfigSchema, 'rvdt-determ', 'kl', 'deterministic'],
      [RvdtConfigSchema, 'rvdt', 'kl', 'stochastic'],
    ];
    for (const [schema, variant, rebalance, policy] of columns) {
      const byName = schema.parse({ variant });
      assert.deepEqual([byName.rebalance, byName.policy], [rebalance, policy], variant);
      assert.equal(schema.parse({ rebalance, policy }).variant, variant);
      // a saved config parses to itself (resume and policy files re-parse config.json)
      assert.deepEqual(schema.parse(byName), byName);
    }
    // the qt-bc column was called `dt` (not what --algo dt trains); saved configs with that name still read
    const former = RdtConfigSchema.parse({ variant: 'dt' });
    assert.deepEqual([former.variant, former.rebalance, former.policy], ['qt-bc', 'none', 'deterministic']);
    assert.throws(() => RdtConfigSchema.parse({ variant: 'dt', policy: 'stochastic' }), /variant qt-bc means policy=deterministic/);
    const unnamed = RvdtConfigSchema.parse({ rebalance: 'dup', policy: 'deterministic' });
    assert.equal(unnamed.variant, null);
    assert.deepEqual(RvdtConfigSchema.parse(unnamed), unnamed);
  });

  it('refuses a variant that contradicts a component, a column of the other family, and critic fields without a critic', () => {
    const conflict = RvdtConfigSchema.safeParse({ variant: 'rvdt-dup', rebalance: 'kl' });
    assert.ok(!conflict.success && /variant rvdt-dup means rebalance=dup, not kl/.test(conflict.error.message));
    assert.ok(!RdtConfigSchema.safeParse({ variant: 'qt' }).success);
    assert.ok(!RdtConfigSchema.safeParse({ eta: 1 }).success);
    assert.ok(!RdtConfigSchema.safeParse({ klNormalization: 'sum' }).success);
    assert.ok(!RvdtConfigSchema.safeParse({ candidates: 1, targetReturns: [1, 2] }).success, 'QT\'s own refinement is kept');
  });

  it('carry QT\'s run.sh presets (RDT without η), each valid', () => {
    assert.deepEqual(Object.keys(RDT_PRESETS), Object.keys(QT_PRESETS));
    for (const [id, preset] of Object.entries(RDT_PRESETS)) {
      assert.ok(!('eta' in preset), id);
      const config = RdtConfigSchema.parse(preset);
      assert.equal(config.returnScale, QT_PRESETS[id]?.returnScale ?? 1000);
    }
    for (const preset of Object.values(rvdtAlgorithm.presets)) RvdtConfigSchema.parse(preset);
    assert.equal(RvdtConfigSchema.parse(QT_PRESETS['hopper-medium-replay-v2']).eta, 3);
    assert.equal(rdtAlgorithm.sampler, 'qt');
    assert.equal(rvdtAlgorithm.sampler, 'qt');
  });
});
