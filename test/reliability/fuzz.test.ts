/**
 * Hostile inputs: mutated policy files, run configs (config.json read by --resume), --set values
 * and CSV/JSONL datasets. Each case either works or fails with one typed, one-line error; none may
 * crash, hang or allocate gigabytes (the resident set is checked after every group). The HDF5 and
 * Minari readers are fuzzed in test/data/fuzz.test.ts. Case counts are printed and recorded in
 * docs/reliability.md.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataFileError } from '../../src/data/errors.js';
import { loadDataset, inspectDataset, saveDataset, type LoadedDataset } from '../../src/data/load.js';
import { Rng } from '../../src/engine/rng.js';
import { readSafetensors } from '../../src/nn/checkpoint.js';
import { encodeSafetensors, SafetensorsError } from '../../src/nn/safetensors.js';
import { RunConfigError } from '../../src/train/config.js';
import { POLICY_METADATA_KEY } from '../../src/deploy/policy-file.js';
import { loadPolicy } from '../../src/deploy/node.js';
import { readRunConfig, RunStoppedError, startRun } from '../../src/train/trainer.js';
import { captureIO, smallMazeDataset, tempDir, tinyConfig } from '../train/fixture.js';
import { syntheticArrays } from '../data/helpers.js';

/** well above what the tests themselves use; a case that allocates gigabytes trips it */
const RSS_LIMIT_BYTES = 1.5 * 2 ** 30;
const counts: Record<string, number> = {};

type ErrorClass = new (...args: never[]) => Error;

/** `work` succeeds, or fails with one of `allowed` and a one-line message */
async function assertCleanOutcome(label: string, allowed: readonly ErrorClass[], work: () => unknown): Promise<'ok' | 'refused'> {
  try {
    await work();
    return 'ok';
  } catch (error) {
    assert.ok(allowed.some((type) => error instanceof type), `${label}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    assert.ok(!(error as Error).message.includes('\n'), `${label}: multi-line message: ${(error as Error).message}`);
    return 'refused';
  } finally {
    assert.ok(process.memoryUsage().rss < RSS_LIMIT_BYTES, `${label}: resident set ${process.memoryUsage().rss} bytes`);
  }
}

/** values a hostile or broken file puts where a number, string or object belongs */
const HOSTILE_VALUES: readonly unknown[] = [null, -1, 0, 1.5, 1e9, 2 ** 53, -(2 ** 31), 'x', '', [], [1e9], {}, { a: 1 }, true];

function setPath(root: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = root;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  const last = path.at(-1)!;
  if (value === undefined) delete node[last];
  else node[last] = value;
}

function leafPaths(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [prefix];
  return [prefix, ...Object.entries(value as Record<string, unknown>).flatMap(([key, child]) => leafPaths(child, [...prefix, key]))].filter((path) => path.length > 0);
}

let dir: string;
let dataset: string;
let loaded: LoadedDataset;
let run: string;

before(async () => {
  dir = tempDir();
  dataset = await smallMazeDataset(dir, 3000);
  loaded = await loadDataset(dataset);
  run = join(dir, 'run');
  await startRun(run, tinyConfig(dataset, 'dt', { steps: 2, evalEvery: 0, evalEpisodes: 1, evalEnvs: 1, checkpointEvery: 0, logEvery: 1 }), captureIO(), loaded);
});

after(() => {
  process.stderr.write(`fuzz cases: ${JSON.stringify(counts)}\n`);
});

describe('policy-file loader', () => {
  const outcome = async (label: string, bytes: Uint8Array): Promise<'ok' | 'refused'> => {
    const path = join(dir, 'fuzzed-policy.safetensors');
    writeFileSync(path, bytes);
    counts.policyFile = (counts.policyFile ?? 0) + 1;
    return assertCleanOutcome(label, [SafetensorsError], () => loadPolicy(path).act([1, 1, 0, 0]));
  };

  it('truncations and bit flips', async () => {
    const original = readFileSync(join(run, 'policy.safetensors'));
    const rng = new Rng(11);
    const cuts = [0, 1, 7, 8, 9, 100, original.length - 1, ...Array.from({ length: 33 }, () => rng.int(original.length))];
    for (const cut of cuts) assert.equal(await outcome(`cut at ${cut}`, original.subarray(0, cut)), 'refused', `a policy file cut at ${cut} must be refused`);
    const headerEnd = 8 + Number(original.readBigUInt64LE(0));
    for (let i = 0; i < 60; i++) {
      const damaged = Buffer.from(original);
      // two thirds in the length prefix and JSON header, where damage changes meaning; the rest in the weights
      const span = i % 3 === 2 ? damaged.length : headerEnd;
      for (let f = 0; f <= rng.int(4); f++) damaged[rng.int(span)] ^= 1 << rng.int(8);
      await outcome(`flip case ${i}`, damaged);
    }
  });

  it('header mutations: wrong types, huge or negative sizes, missing keys, broken JSON', async () => {
    const file = readSafetensors(join(run, 'policy.safetensors'));
    const header = JSON.parse(file.metadata[POLICY_METADATA_KEY]!) as Record<string, unknown>;
    const encode = (metadata: string): Uint8Array => encodeSafetensors(file.tensors, { [POLICY_METADATA_KEY]: metadata });
    for (const path of leafPaths(header)) {
      for (const value of [...HOSTILE_VALUES, undefined]) {
        const mutated = structuredClone(header);
        setPath(mutated, path, value);
        await outcome(`${path.join('.')} = ${JSON.stringify(value)}`, encode(JSON.stringify(mutated)));
      }
    }
    // sizes that would build gigabytes of network: refused before anything is allocated
    for (const [field, value] of [['width', 1_000_000], ['width', 20_000], ['maxTimestep', 2 ** 40], ['mlpWidth', 2 ** 31], ['layers', 100_000]] as const) {
      const mutated = structuredClone(header) as { config: Record<string, unknown> };
      mutated.config[field] = value;
      assert.equal(await outcome(`config.${field} = ${value}`, encode(JSON.stringify(mutated))), 'refused');
    }
    for (const text of ['', '{', 'null', '[]', '"x"', '{"format":"stitch-policy"', `${'['.repeat(100_000)}${']'.repeat(100_000)}`, JSON.stringify({ ...header, extra: 1 })]) {
      assert.equal(await outcome(`metadata ${text.slice(0, 20)}`, encode(text)), 'refused');
    }
  });
});

describe('run config (config.json, as --resume reads it)', () => {
  it('mutated fields and broken JSON give one-line RunConfigErrors', async () => {
    const original = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as Record<string, unknown>;
    const fuzzed = join(dir, 'config-fuzz');
    mkdirSync(fuzzed);
    const attempt = async (label: string, text: string): Promise<'ok' | 'refused'> => {
      writeFileSync(join(fuzzed, 'config.json'), text);
      counts.runConfig = (counts.runConfig ?? 0) + 1;
      return assertCleanOutcome(label, [RunConfigError], () => readRunConfig(fuzzed));
    };
    // the run-level keys; algorithm fields are the algorithm schema's, covered through --set below
    for (const key of Object.keys(original).filter((name) => name !== 'algorithm')) {
      for (const value of [...HOSTILE_VALUES, undefined]) await attempt(`${key} = ${JSON.stringify(value)}`, JSON.stringify({ ...original, [key]: value }));
    }
    const rng = new Rng(5);
    const text = JSON.stringify(original);
    for (let i = 0; i < 30; i++) assert.equal(await attempt(`cut ${i}`, text.slice(0, rng.int(text.length))), 'refused');
    for (const broken of ['', 'null', '[]', '{"format": "stitch-run", "formatVersion": 2}', `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`, ' '.repeat(2 ** 21)]) {
      assert.equal(await attempt(`broken ${broken.slice(0, 16)}`, broken), 'refused');
    }
  });

  it('through the CLI: exit code 2 and one line', () => {
    const cases: Array<[string, (config: Record<string, unknown>) => unknown, RegExp]> = [
      ['not JSON', () => '{"format": ', /config\.json: not valid JSON/],
      ['negative steps', (config) => ({ ...config, steps: -5 }), /config\.json: steps: /],
      ['a string seed', (config) => ({ ...config, seed: 'seven' }), /config\.json: seed: /],
      ['a huge width', (config) => ({ ...config, algorithm: { ...(config.algorithm as object), width: 1_000_000 } }), /build at least \d+ parameters; Stitch trains at most/],
      ['an unknown onNonFinite', (config) => ({ ...config, onNonFinite: 'ignore' }), /config\.json: onNonFinite: /],
    ];
    for (const [label, mutate, message] of cases) {
      const copy = join(dir, `cli-${label.replace(/\W+/g, '-')}`);
      cpSync(run, copy, { recursive: true });
      const config = JSON.parse(readFileSync(join(copy, 'config.json'), 'utf8')) as Record<string, unknown>;
      const mutated = mutate(config);
      writeFileSync(join(copy, 'config.json'), typeof mutated === 'string' ? mutated : JSON.stringify(mutated));
      const result = spawnSync(process.execPath, ['dist/src/cli/main.js', 'train', '--resume', copy], { encoding: 'utf8', timeout: 30_000 });
      counts.resumeCli = (counts.resumeCli ?? 0) + 1;
      assert.equal(result.status, 2, `${label}: ${result.stderr}`);
      assert.match(result.stderr, message, label);
      assert.equal(result.stderr.trim().split('\n').length, 1, `${label}: ${result.stderr}`);
    }
  });
});

describe('--set values', () => {
  it('every algorithm field with hostile values: a one-line error before anything large is allocated', async () => {
    const base = tinyConfig(dataset, 'dt');
    const fields = Object.keys(base.algorithm);
    // --set reads a value as JSON when it parses, else as text
    const texts = ['-1', '0', '1e9', '1e308', '2147483648', 'NaN', 'null', '[]', '{}', '"x"', 'true', '[1e9]', 'abc', ''];
    for (const field of fields) {
      for (const text of texts) {
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          value = text;
        }
        counts.setValues = (counts.setValues ?? 0) + 1;
        // RunStoppedError: accepted values that make training diverge (lr=1e308) halt the run
        await assertCleanOutcome(`--set ${field}=${text}`, [RunConfigError, RunStoppedError], async () => {
          const config = tinyConfig(dataset, 'dt', { steps: 1, evalEvery: 0, evalEpisodes: 1, evalEnvs: 1, checkpointEvery: 0, overrides: { ...tinyConfig(dataset, 'dt').algorithm, steps: 1, [field]: value } });
          // a valid config trains one step: its allocations are the ones measured
          await startRun(join(dir, `set-${field}-${counts.setValues}`), config, captureIO(), loaded);
        });
      }
    }
  });
});

describe('CSV and JSONL readers', () => {
  it('truncations, byte flips and cell mutations read or fail with a one-line DataFileError naming the file', async () => {
    const rng = new Rng(17);
    const arrays = syntheticArrays([12, 9, 15], { obsDim: 3, actionDim: 2 });
    for (const extension of ['csv', 'jsonl']) {
      const source = join(dir, `source.${extension}`);
      await saveDataset(source, arrays);
      const original = readFileSync(source);
      const attempt = async (label: string, bytes: Uint8Array | string): Promise<void> => {
        const path = join(dir, `fuzzed.${extension}`);
        writeFileSync(path, bytes);
        counts[extension] = (counts[extension] ?? 0) + 1;
        await assertCleanOutcome(`${extension} ${label}`, [DataFileError], async () => {
          try {
            await inspectDataset(path);
          } catch (error) {
            if (error instanceof DataFileError) assert.ok(error.message.startsWith(path), `${label}: the message names the file: ${error.message}`);
            throw error;
          }
        });
      };
      for (let i = 0; i < 25; i++) await attempt(`cut ${i}`, original.subarray(0, rng.int(original.length)));
      for (let i = 0; i < 40; i++) {
        const damaged = Buffer.from(original);
        for (let f = 0; f <= rng.int(6); f++) damaged[rng.int(damaged.length)] = rng.int(256);
        await attempt(`flip ${i}`, damaged);
      }
      const lines = original.toString('utf8').split('\n');
      const tokens = ['', 'nan', '1e999', '-', '"', ',,,,', '{', '[]', 'null', '99999999999999999999', ' ', '\u0000'];
      for (let i = 0; i < 40; i++) {
        const mutated = [...lines];
        const line = rng.int(mutated.length);
        const token = tokens[rng.int(tokens.length)]!;
        const at = rng.int((mutated[line] ?? '').length + 1);
        mutated[line] = `${mutated[line]!.slice(0, at)}${token}${mutated[line]!.slice(at + rng.int(4))}`;
        await attempt(`line ${line} mutation ${i}`, mutated.join('\n'));
      }
    }
    // headers that name huge or negative dimensions
    for (const header of ['obs_999999999,action_0,reward,terminated', 'obs_-1,action_0,reward,terminated', 'obs_0,action_4294967296,reward,terminated', 'obs_0'.repeat(10_000)]) {
      await (async () => {
        const path = join(dir, 'header.csv');
        writeFileSync(path, `${header}\n1,2,3,0\n`);
        counts.csv = (counts.csv ?? 0) + 1;
        await assertCleanOutcome(`header ${header.slice(0, 30)}`, [DataFileError], () => inspectDataset(path));
      })();
    }
    for (const line of ['{"observation":[1,2,3],"action":[0,0],"reward":1,"terminated":true}', `{"observation":${JSON.stringify(new Array(100_000).fill(0))},"action":[0],"reward":1}`, '{"observation":"x"}', '[]', 'null']) {
      const path = join(dir, 'odd.jsonl');
      writeFileSync(path, `${line}\n`);
      counts.jsonl = (counts.jsonl ?? 0) + 1;
      await assertCleanOutcome(`jsonl ${line.slice(0, 30)}`, [DataFileError], () => inspectDataset(path));
    }
  });
});
