import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TransitionArrays } from '../../src/data/arrays.js';
import { inspectDataset, saveDataset } from '../../src/data/load.js';
import { selectExpertSubset } from '../../src/data/preprocess.js';
import { TrajectoryStore, segmentEpisodes } from '../../src/data/store.js';
import { gatherEpisodeRows, thinHighReturn } from '../../src/data/thin.js';
import { Rng } from '../../src/engine/rng.js';
import { syntheticArrays, tempDir } from './helpers.js';

const EPISODES = 20;
/** Episode e has return (7e mod 20): a permutation of 0..19, so the top 25% are episodes 5, 8, 11, 14, 17 (returns 15..19). */
const RETURNS = Array.from({ length: EPISODES }, (_, e) => (7 * e) % 20);
const HIGH = [5, 8, 11, 14, 17];
const LENGTHS = Array.from({ length: EPISODES }, (_, e) => 2 + (e % 4));

/** 20 episodes of lengths 2..5 with infos, two terminal episodes (one with both flags on its last row) and 3 trailing rows. */
function arrays(): TransitionArrays {
  const data = syntheticArrays(LENGTHS, { terminalEpisodes: [3, 8], trailing: 3 });
  const n = data.rewards.length;
  data.rewards.fill(0);
  let start = 0;
  LENGTHS.forEach((length, e) => {
    data.rewards[start] = RETURNS[e]!;
    start += length;
  });
  const end8 = LENGTHS.slice(0, 9).reduce((a, b) => a + b, 0) - 1;
  data.timeouts[end8] = 1; // terminal and timeout on one row: read as terminated, and must stay so
  data.infos = {
    goal: { data: Float32Array.from({ length: n * 2 }, (_, i) => 1000 + i), dim: 2 },
    qpos: { data: Float32Array.from({ length: n }, (_, i) => -i), dim: 1 },
  };
  return data;
}

function makeStore(data: TransitionArrays = arrays()): TrajectoryStore {
  return TrajectoryStore.fromArrays(data, segmentEpisodes(data.terminals, data.timeouts));
}

function episodeRows(store: TrajectoryStore, e: number, column: Float32Array | Uint8Array, dim: number): number[] {
  return Array.from(column.subarray(store.episodeStarts[e]! * dim, store.episodeStarts[e + 1]! * dim));
}

/** Every output episode k equals input episode keptEpisodes[k] in every column, flags included. */
function assertSameEpisodes(source: TrajectoryStore, out: TrajectoryStore, kept: Int32Array): void {
  assert.equal(out.episodeCount, kept.length);
  for (let k = 0; k < kept.length; k++) {
    const e = kept[k]!;
    assert.equal(out.episodeLength(k), source.episodeLength(e), `length of episode ${k}`);
    assert.deepEqual(episodeRows(out, k, out.observations, out.obsDim), episodeRows(source, e, source.observations, source.obsDim));
    assert.deepEqual(episodeRows(out, k, out.actions, out.actionDim), episodeRows(source, e, source.actions, source.actionDim));
    assert.deepEqual(episodeRows(out, k, out.rewards, 1), episodeRows(source, e, source.rewards, 1));
    assert.deepEqual(episodeRows(out, k, out.terminated, 1), episodeRows(source, e, source.terminated, 1));
    assert.deepEqual(episodeRows(out, k, out.truncated, 1), episodeRows(source, e, source.truncated, 1));
    assert.deepEqual(Object.keys(out.infos).sort(), Object.keys(source.infos).sort());
    for (const [key, info] of Object.entries(source.infos)) assert.deepEqual(episodeRows(out, k, out.infos[key]!.data, info.dim), episodeRows(source, e, info.data, info.dim), `infos/${key}`);
  }
}

test('thinning keeps every other trajectory and round(keep * H) high-return ones, with exact counts', () => {
  const store = makeStore();
  assert.deepEqual(Array.from(store.episodeReturns()), RETURNS);
  const { store: out, keptEpisodes, droppedEpisodes, summary } = thinHighReturn(store, { topFraction: 0.25, keep: 0.4, rng: new Rng(1) });
  const keptHigh = HIGH.filter((e) => keptEpisodes.includes(e));
  assert.equal(keptHigh.length, 2);
  assert.deepEqual(Array.from(droppedEpisodes), HIGH.filter((e) => !keptHigh.includes(e)));
  const expectedKept = Array.from({ length: EPISODES }, (_, e) => e).filter((e) => !HIGH.includes(e) || keptHigh.includes(e));
  assert.deepEqual(Array.from(keptEpisodes), expectedKept);
  const keptTransitions = expectedKept.reduce((sum, e) => sum + LENGTHS[e]!, 0);
  const highTransitions = HIGH.reduce((sum, e) => sum + LENGTHS[e]!, 0);
  assert.deepEqual(summary.trajectories, { before: 20, after: 17 });
  assert.deepEqual(summary.transitions, { before: LENGTHS.reduce((a, b) => a + b, 0), after: keptTransitions });
  assert.equal(out.transitionCount, keptTransitions);
  assert.deepEqual(summary.rule, { topFraction: 0.25 });
  assert.deepEqual(summary.highReturn, {
    threshold: 15,
    count: 5,
    kept: 2,
    dropped: 3,
    transitions: { before: highTransitions, after: keptHigh.reduce((sum, e) => sum + LENGTHS[e]!, 0) },
  });
  assert.equal(summary.returns.before.count, 20);
  assert.equal(summary.returns.before.max, 19);
  assert.equal(summary.returns.before.median, 9.5);
  assert.equal(summary.returns.before.p25, 4.75);
  assert.equal(summary.returns.after.count, 17);
  assert.equal(summary.returns.after.max, Math.max(...keptHigh.map((e) => RETURNS[e]!)));
  assert.deepEqual(Array.from(out.episodeReturns()), expectedKept.map((e) => RETURNS[e]!));
  assertSameEpisodes(store, out, keptEpisodes);
});

test('the output written as flags segments back into exactly the kept trajectories, terminal and timeout kept apart', () => {
  const source = makeStore();
  const { store: out, keptEpisodes } = thinHighReturn(source, { topFraction: 0.25, keep: 0.6, rng: new Rng(7) });
  const flat = out.toArrays();
  const resegmented = segmentEpisodes(flat.terminals, flat.timeouts);
  assert.deepEqual(Array.from(resegmented.episodeStarts), Array.from(out.episodeStarts));
  assert.equal(resegmented.trailingDropped, 0);
  const back = TrajectoryStore.fromArrays(flat, resegmented);
  assertSameEpisodes(source, back, keptEpisodes);
  // Episodes 3 and 8 ended in a terminal (8 with the timeout too): still terminated, never truncated.
  for (const e of [3, 8]) {
    const k = keptEpisodes.indexOf(e);
    if (k < 0) continue;
    const last = back.episodeStarts[k + 1]! - 1;
    assert.deepEqual([back.terminated[last], back.truncated[last]], [1, 0], `episode ${e}`);
  }
  assert.ok(keptEpisodes.includes(3));
});

test('the same seed gives the same subset, other seeds other subsets, and every high-return trajectory is equally likely', () => {
  const store = makeStore();
  const once = thinHighReturn(store, { topFraction: 0.25, keep: 0.4, rng: new Rng(42) });
  const again = thinHighReturn(store, { topFraction: 0.25, keep: 0.4, rng: new Rng(42) });
  assert.deepEqual(again.keptEpisodes, once.keptEpisodes);
  assert.deepEqual(again.store.observations, once.store.observations);
  assert.deepEqual(again.store.infos, once.store.infos);
  const counts = new Map<number, number>(HIGH.map((e) => [e, 0]));
  const subsets = new Set<string>();
  const seeds = 400;
  for (let seed = 0; seed < seeds; seed++) {
    const { keptEpisodes } = thinHighReturn(store, { topFraction: 0.25, keep: 0.4, rng: new Rng(seed) });
    const keptHigh = HIGH.filter((e) => keptEpisodes.includes(e));
    assert.equal(keptHigh.length, 2);
    subsets.add(keptHigh.join(','));
    for (const e of keptHigh) counts.set(e, counts.get(e)! + 1);
  }
  assert.equal(subsets.size, 10, 'all C(5, 2) subsets occur');
  for (const [e, count] of counts) assert.ok(count / seeds > 0.3 && count / seeds < 0.5, `episode ${e} kept in ${count} of ${seeds} draws`);
});

test('keep = 0 drops every high-return trajectory; keep = 1 returns the input unchanged without drawing', () => {
  const store = makeStore();
  const none = thinHighReturn(store, { topFraction: 0.25, keep: 0, rng: new Rng(3) });
  assert.deepEqual(Array.from(none.droppedEpisodes), HIGH);
  assert.deepEqual(Array.from(none.keptEpisodes), Array.from({ length: EPISODES }, (_, e) => e).filter((e) => !HIGH.includes(e)));
  assert.equal(none.summary.highReturn.kept, 0);
  assert.equal(none.summary.returns.after.max, 14);
  assertSameEpisodes(store, none.store, none.keptEpisodes);

  const rng = new Rng(3);
  const before = rng.state();
  const all = thinHighReturn(store, { topFraction: 0.25, keep: 1, rng });
  assert.deepEqual(rng.state(), before);
  assert.equal(all.droppedEpisodes.length, 0);
  assert.deepEqual(all.store.observations, store.observations);
  assert.deepEqual(all.store.actions, store.actions);
  assert.deepEqual(all.store.rewards, store.rewards);
  assert.deepEqual(all.store.terminated, store.terminated);
  assert.deepEqual(all.store.truncated, store.truncated);
  assert.deepEqual(all.store.episodeStarts, store.episodeStarts);
  assert.deepEqual(all.store.infos, store.infos);
  assert.notEqual(all.store.observations.buffer, store.observations.buffer, 'the output owns its arrays');
  assert.deepEqual(all.summary.returns.after, all.summary.returns.before);
});

test('round(keep * H) rounds halves up; the threshold rule and the default fraction follow selectExpertSubset', () => {
  const store = makeStore();
  assert.equal(thinHighReturn(store, { topFraction: 0.25, keep: 0.5, rng: new Rng(0) }).summary.highReturn.kept, 3); // 2.5
  assert.equal(thinHighReturn(store, { topFraction: 0.25, keep: 0.3, rng: new Rng(0) }).summary.highReturn.kept, 2); // 1.5
  assert.equal(thinHighReturn(store, { topFraction: 0.25, keep: 0.29, rng: new Rng(0) }).summary.highReturn.kept, 1); // 1.45
  const byThreshold = thinHighReturn(store, { threshold: 16, keep: 0, rng: new Rng(0) });
  assert.deepEqual(Array.from(byThreshold.droppedEpisodes), [8, 11, 14, 17]);
  assert.deepEqual(byThreshold.summary.rule, { threshold: 16 });
  const byDefault = thinHighReturn(store, { keep: 0, rng: new Rng(0) });
  assert.deepEqual(byDefault.summary.rule, { topFraction: 0.1 });
  assert.deepEqual(Array.from(byDefault.droppedEpisodes), [14, 17]);

  // Ties at the cut: the high-return set is exactly selectExpertSubset's (ties to the lower index).
  const data = syntheticArrays(Array.from({ length: 10 }, () => 1));
  data.rewards.set([3, 5, 5, 1, 5, 5, 0, 2, 5, 4]);
  const tied = makeStore(data);
  const expert = selectExpertSubset(tied, { fraction: 0.3 });
  const thinned = thinHighReturn(tied, { topFraction: 0.3, keep: 0, rng: new Rng(0) });
  assert.deepEqual(Array.from(thinned.droppedEpisodes), [1, 2, 4]);
  assert.deepEqual(Array.from(thinned.droppedEpisodes), Array.from(expert.episodes).sort((a, b) => a - b));
  assert.equal(thinned.summary.highReturn.threshold, expert.threshold);
});

test('bad options are refused', () => {
  const store = makeStore();
  const rng = new Rng(0);
  for (const keep of [-0.1, 1.01, Number.NaN]) assert.throws(() => thinHighReturn(store, { keep, rng }), /keep must be in \[0, 1\]/);
  for (const topFraction of [0, -1, 1.5, Number.NaN]) assert.throws(() => thinHighReturn(store, { topFraction, keep: 0.5, rng }), /topFraction must be in \(0, 1\]/);
  assert.throws(() => thinHighReturn(store, { topFraction: 0.1, threshold: 3, keep: 0.5, rng }), /not both/);
  assert.throws(() => thinHighReturn(store, { threshold: 100, keep: 0.5, rng }), /no trajectory reaches/);
});

test('gatherEpisodeRows copies a column the store does not hold for the kept episodes', () => {
  const store = makeStore();
  const column = Float32Array.from({ length: store.transitionCount * 3 }, (_, i) => i);
  const kept = Int32Array.of(1, 4);
  const rows = [...episodeRows(store, 1, column, 3), ...episodeRows(store, 4, column, 3)];
  assert.deepEqual(Array.from(gatherEpisodeRows(store, kept, column, 3)), rows);
  assert.throws(() => gatherEpisodeRows(store, kept, column.subarray(3), 3), /expected at least/);
});

function stitch(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['dist/src/cli/main.js', 'data', ...args], { encoding: 'utf8' });
}

test('data thin writes an HDF5 that reads back as the kept trajectories, with infos, next_observations and thin attributes', async () => {
  const dir = tempDir();
  const input = join(dir, 'umaze.hdf5');
  const output = join(dir, 'umaze-thin.hdf5');
  const data = arrays();
  data.nextObservations = data.observations.map((x) => x + 0.5);
  data.attributes = { dataset_id: 'maze2d-umaze-v1', seed: 5 };
  await saveDataset(input, data);
  const result = stitch('thin', input, '--out', output, '--top-fraction', '0.25', '--keep', '0.4', '--seed', '9', '--json');
  assert.equal(result.status, 0, result.stderr);
  const summary = JSON.parse(result.stdout) as { format: string; trajectories: { before: number; after: number }; transitions: { before: number; after: number }; highReturn: { count: number; kept: number; dropped: number; threshold: number }; trailingDropped: number; sourceRows: number };
  assert.equal(summary.format, 'd4rl');
  assert.deepEqual(summary.trajectories, { before: 20, after: 17 });
  assert.deepEqual([summary.highReturn.count, summary.highReturn.kept, summary.highReturn.dropped, summary.highReturn.threshold], [5, 2, 3, 15]);
  assert.deepEqual([summary.sourceRows, summary.trailingDropped], [data.rewards.length, 3]);

  const source = await inspectDataset(input, { nextObservations: true });
  const expected = thinHighReturn(source.store, { topFraction: 0.25, keep: 0.4, rng: new Rng(9) });
  const back = await inspectDataset(output, { nextObservations: true });
  assert.deepEqual(back.findings.filter((item) => item.severity !== 'info'), []);
  assert.equal(back.arrays.rewards.length, back.store.transitionCount, 'no trailing rows written');
  assert.equal(summary.transitions.after, back.store.transitionCount);
  assert.deepEqual(back.store.episodeStarts, expected.store.episodeStarts);
  assertSameEpisodes(source.store, back.store, expected.keptEpisodes);
  assert.deepEqual(back.arrays.nextObservations, gatherEpisodeRows(source.store, expected.keptEpisodes, data.nextObservations, 3));
  assert.deepEqual(back.arrays.attributes, {
    dataset_id: 'maze2d-umaze-v1',
    seed: 5,
    stitch_thinned: 1,
    stitch_thin_source: 'umaze.hdf5',
    stitch_thin_top_fraction: 0.25,
    stitch_thin_keep: 0.4,
    stitch_thin_seed: 9,
    stitch_thin_high_return_threshold: 15,
    stitch_thin_high_total: 5,
    stitch_thin_high_kept: 2,
    stitch_thin_source_episodes: 20,
    stitch_thin_source_transitions: summary.transitions.before,
  });

  const human = stitch('thin', input, '--out', join(dir, 'again.hdf5'), '--top-fraction', '0.25', '--keep', '0.4', '--seed', '9');
  assert.equal(human.status, 0, human.stderr);
  assert.match(human.stdout, /kept +2 of 5 high-return \(keep 0\.4\), 3 dropped/);
  assert.match(human.stdout, /trajectories +20 -> 17/);
  assert.match(human.stdout, /return before +min 0 .* max 19 /);
  const again = await inspectDataset(join(dir, 'again.hdf5'));
  assert.deepEqual(again.store.observations, back.store.observations);

  // --dropped: the high-return trajectories the thinning removed, as a held-out set
  const withDropped = stitch('thin', input, '--out', join(dir, 'kept.hdf5'), '--dropped', join(dir, 'dropped.hdf5'), '--top-fraction', '0.25', '--keep', '0.4', '--seed', '9');
  assert.equal(withDropped.status, 0, withDropped.stderr);
  assert.match(withDropped.stdout, /dropped +3 high-return trajectories written to /);
  const dropped = await inspectDataset(join(dir, 'dropped.hdf5'), { nextObservations: true });
  assertSameEpisodes(source.store, dropped.store, expected.droppedEpisodes);
  assert.equal(dropped.store.episodeCount, 3);
  assert.deepEqual(dropped.arrays.nextObservations, gatherEpisodeRows(source.store, expected.droppedEpisodes, data.nextObservations, 3));
  assert.equal(dropped.arrays.attributes?.stitch_thin_part, 'dropped');
  for (let e = 0; e < dropped.store.episodeCount; e++) assert.ok((dropped.store.episodeReturns()[e] ?? 0) >= 15, 'only high-return trajectories are dropped');
});

test('data thin refuses bad arguments with one line and exit 2, leaving no files behind', async () => {
  const dir = tempDir();
  const input = join(dir, 'in.hdf5');
  await saveDataset(input, arrays());
  const bytes = readFileSync(input);
  const cases: [string[], RegExp][] = [
    [['--keep', '1.5'], /--keep must be a number in \[0, 1\]/],
    [['--keep=-0.1'], /--keep must be a number in \[0, 1\]/],
    [['--keep', 'half'], /--keep must be a number in \[0, 1\]/],
    [['--top-fraction', '0'], /--top-fraction must be a number in \(0, 1\]/],
    [['--top-fraction', '1.5'], /--top-fraction must be a number in \(0, 1\]/],
    [['--top-fraction', '0.1', '--threshold', '3'], /not both/],
    [['--seed', '-1'], /--seed must be an integer/],
    [['--threshold', '1000'], /no trajectory reaches the expert threshold 1000/],
    [['--top-fraction', '1', '--keep', '0'], /would leave no trajectories/],
    [['--keep', '1', '--dropped', join(dir, 'dropped.hdf5')], /drops no trajectories/],
    [['--dropped', input], /--dropped .* must differ from the input/],
  ];
  for (const [args, message] of cases) {
    const result = stitch('thin', input, '--out', join(dir, 'out.hdf5'), ...args);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    // Health warnings of the input may come first; the refusal is one line, the last.
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.filter((line) => line.startsWith('stitch:')).length, 1, result.stderr);
    assert.match(lines.at(-1)!, message);
    assert.match(lines.at(-1)!, /^stitch: /);
  }
  const same = stitch('thin', input, '--out', `${dir}/./in.hdf5`);
  assert.equal(same.status, 2);
  assert.match(same.stderr, /is the input/);
  const unknown = stitch('thin', input, '--out', join(dir, 'out.txt'));
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /cannot tell the format from the name/);
  const missing = stitch('thin', join(dir, 'missing.hdf5'), '--out', join(dir, 'out.hdf5'));
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /missing\.hdf5: no such file/);
  assert.deepEqual(readdirSync(dir), ['in.hdf5']);
  assert.deepEqual(readFileSync(input), bytes);
});
