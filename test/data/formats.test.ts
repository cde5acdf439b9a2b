import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DataFileError } from '../../src/data/errors.js';
import { parsePythonJson, stringifyPythonJson } from '../../src/data/json.js';
import { inspectDataset, saveDataset } from '../../src/data/load.js';
import { readMinari, writeMinari } from '../../src/data/minari.js';
import { readCsv, readJsonl, writeCsv, writeJsonl } from '../../src/data/text.js';
import { FIXTURES, syntheticArrays, tempDir } from './helpers.js';

test('Python JSON with bare Infinity and NaN parses, and strings that mention them stay strings', () => {
  const value = parsePythonJson('{"low": [-Infinity, 1], "high": Infinity, "x": NaN, "s": "Infinity, NaN \\" -Infinity"}') as Record<string, unknown>;
  assert.deepEqual(value.low, [Number.NEGATIVE_INFINITY, 1]);
  assert.equal(value.high, Number.POSITIVE_INFINITY);
  assert.ok(Number.isNaN(value.x));
  assert.equal(value.s, 'Infinity, NaN " -Infinity');
  assert.equal(stringifyPythonJson({ a: [Number.NEGATIVE_INFINITY, 2] }, 0), '{"a":[-Infinity,2]}');
});

test('reads the h5py-written Minari fixture: Dict observations, empty episode, bounds, infos', async () => {
  const { arrays, findings, actionBounds } = await readMinari(join(FIXTURES, 'minari-tiny'), { nextObservations: true });
  assert.equal(arrays.rewards.length, 15);
  assert.equal(arrays.obsDim, 6);
  assert.deepEqual(Array.from(actionBounds?.high ?? []), [1, 1]);
  // desired_goal (episode index k) comes first in key order
  assert.equal(arrays.observations[0], 0);
  assert.equal(arrays.observations[5 * 6], 1);
  assert.deepEqual(Array.from(arrays.infos?.success?.data.subarray(0, 6) ?? []), [0, 10, 20, 30, 40, 0]);
  assert.deepEqual(Array.from(arrays.terminals), [0, 0, 0, 0, 1, ...Array(10).fill(0)]);
  assert.equal(arrays.timeouts[11], 1);
  assert.equal(arrays.timeouts[14], 1);
  assert.deepEqual(findings.map((item) => item.code).sort(), ['empty-episode', 'episode-without-end', 'observation-layout']);
  assert.equal(arrays.attributes?.env_id, 'PointMaze_UMaze-v3');
});

test('Minari write then read round-trips, keeping the final observation from next_observations', async () => {
  const arrays = syntheticArrays([3, 4], { terminalEpisodes: [0] });
  arrays.nextObservations = arrays.observations.map((x) => x + 100);
  arrays.infos = { goal: { data: new Float32Array(14).fill(5), dim: 2 } };
  const dir = join(tempDir(), 'ds');
  await writeMinari(dir, arrays, { actionBounds: { low: Float32Array.of(-1, -1), high: Float32Array.of(1, 1) } });
  await writeMinari(dir, arrays); // replaces an existing folder
  const metadata = parsePythonJson(readFileSync(join(dir, 'data', 'metadata.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(metadata.total_steps, 7);
  const back = await readMinari(dir, { nextObservations: true });
  assert.deepEqual(back.arrays.observations, arrays.observations);
  assert.deepEqual(back.arrays.actions, arrays.actions);
  assert.deepEqual(back.arrays.rewards, arrays.rewards);
  assert.deepEqual(back.arrays.terminals, arrays.terminals);
  assert.deepEqual(back.arrays.timeouts, arrays.timeouts);
  // Minari keeps one observation after each episode's last step: it is next_observations there.
  for (const last of [2, 6]) assert.deepEqual(back.arrays.nextObservations?.subarray(last * 3, last * 3 + 3), arrays.nextObservations.subarray(last * 3, last * 3 + 3));
  assert.deepEqual(back.arrays.nextObservations?.subarray(0, 3), arrays.observations.subarray(3, 6));
  assert.deepEqual(back.arrays.infos?.goal, arrays.infos.goal);
});

test('CSV and JSONL round-trip, NaN included, and episode ids close episodes', async () => {
  const arrays = syntheticArrays([2, 3], { terminalEpisodes: [1] });
  arrays.observations[1] = Number.NaN;
  arrays.infos = { goal: { data: Float32Array.from({ length: 10 }, (_, i) => i), dim: 2 }, step: { data: new Float32Array(5).fill(1), dim: 1 } };
  const dir = tempDir();
  for (const [write, read, name] of [[writeCsv, readCsv, 'a.csv'], [writeJsonl, readJsonl, 'a.jsonl']] as const) {
    write(join(dir, name), arrays);
    const back = (await read(join(dir, name))).arrays;
    assert.deepEqual(back.observations, arrays.observations, name);
    assert.deepEqual(back.actions, arrays.actions, name);
    assert.deepEqual(back.terminals, arrays.terminals, name);
    assert.deepEqual(back.timeouts, arrays.timeouts, name);
    assert.deepEqual(back.infos?.goal, arrays.infos.goal, name);
  }
  writeFileSync(join(dir, 'ids.csv'), 'episode,obs_0,action_0,reward,terminated\n7,1,0,1,0\n7,2,0,1,0\n8,3,0,1,1\n');
  const { arrays: byId, findings } = await readCsv(join(dir, 'ids.csv'));
  assert.deepEqual(Array.from(byId.timeouts), [0, 1, 0]);
  assert.equal(findings[0]?.code, 'episode-without-end');
});

test('bad text input names the file, key and line', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'bad.csv'), 'obs_0,obs_2,action_0,reward,terminated\n1,2,3,4,0\n');
  await assert.rejects(readCsv(join(dir, 'bad.csv')), (error: unknown) => error instanceof DataFileError && /bad\.csv \[header\]: .*missing obs_1/.test(error.message));
  writeFileSync(join(dir, 'bad2.csv'), 'obs_0,action_0,reward,terminated\n1,2,x,0\n');
  await assert.rejects(readCsv(join(dir, 'bad2.csv')), /bad2\.csv \[reward\]: line 2: not a number: "x"/);
  writeFileSync(join(dir, 'bad.jsonl'), '{"observation":[1],"action":[0],"reward":1}\n{"observation":[1,2],"action":[0],"reward":1}\n');
  await assert.rejects(readJsonl(join(dir, 'bad.jsonl')), /bad\.jsonl: line 2: needs observation \(1 numbers\)/);
});

test('health checks report NaN, absurd magnitudes and action bounds with file, key and row', async () => {
  const arrays = syntheticArrays([4, 4]);
  arrays.observations[3 * 3 + 1] = Number.NaN;
  arrays.rewards[6] = 5e7;
  arrays.actions[2 * 2] = 3;
  const path = join(tempDir(), 'dirty.hdf5');
  await saveDataset(path, arrays, 'd4rl', { actionBounds: { low: Float32Array.of(-1, -1), high: Float32Array.of(1, 1) } });
  const { findings } = await inspectDataset(path);
  const byCode = new Map(findings.map((item) => [item.code, item]));
  assert.deepEqual({ ...byCode.get('non-finite'), message: '' }, { code: 'non-finite', severity: 'error', file: path, key: 'observations', index: 3, count: 1, message: '' });
  assert.equal(byCode.get('absurd-magnitude')?.index, 6);
  assert.equal(byCode.get('absurd-magnitude')?.key, 'rewards');
  assert.equal(byCode.get('action-out-of-bounds')?.index, 2);
  assert.match(byCode.get('non-finite')?.message ?? '', /1 NaN and 0 infinite values, first at row 3, column 1/);
});
