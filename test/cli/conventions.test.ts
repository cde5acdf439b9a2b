/** issue 21 item 9: the CLI's conventions (exit codes, option spellings, JSON keys, env names, --set keys). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { renderConfigReference } from '../../src/cli/config-fields.js';
import { resolveEnvName } from '../../src/cli/env.js';
import { UserError } from '../../src/cli/errors.js';
import { camelCaseKeys, fieldOf } from '../../src/util/json-keys.js';

const cli = join(process.cwd(), 'dist/src/cli/main.js');
const tinyDataset = join(process.cwd(), 'test/fixtures/data/maze2d-tiny.hdf5');

function stitch(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
}

/** one line on stderr, no help text, exit 2 */
function assertOneLineBadArguments(result: { status: number | null; stdout: string; stderr: string }, pattern: RegExp): void {
  assert.equal(result.status, 2, result.stderr);
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  assert.doesNotMatch(result.stderr, /Usage:/);
  assert.match(result.stderr, pattern);
  assert.equal(result.stdout, '');
}

describe('bad arguments', () => {
  it('an unknown option exits 2 with one line and a suggestion, not the whole help', () => {
    assertOneLineBadArguments(stitch('train', '--stepz', '5'), /^stitch: unknown option '--stepz' \(Did you mean --steps\?\)/);
  });

  it('an unknown command and a missing argument are one line and exit 2 too', () => {
    assertOneLineBadArguments(stitch('trian'), /^stitch: unknown command 'trian' \(Did you mean train\?\)/);
    assertOneLineBadArguments(stitch('env', 'run'), /^stitch: missing required argument 'env-id'/);
  });

  it('--help still prints the help and exits 0', () => {
    const help = stitch('train', '--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--eval-episodes <m>/);
  });

  it('--set with an unknown key lists the valid keys and suggests the closest, before any dataset work', () => {
    const cache = mkdtempSync(join(tmpdir(), 'stitch-cache-'));
    const result = spawnSync(process.execPath, [cli, 'train', '--algo', 'dt', '--env', 'maze2d-umaze-v1', '--set', 'batchsize=64'], { encoding: 'utf8', env: { ...process.env, STITCH_CACHE: cache } });
    assertOneLineBadArguments(result, /^stitch: invalid dt config: --set batchsize: no such field \(did you mean batchSize\?\); valid: context, width, .*targetReturns/);
    assert.deepEqual(readdirSync(cache), [], 'no dataset was generated for a run that cannot start');
    assertOneLineBadArguments(stitch('train', '--algo', 'reinformer', '--dataset', tinyDataset, '--set', 'nonsense=1'), /invalid reinformer config: --set nonsense: no such field \(did you mean \w+\?\); valid: /);
  });
});

describe('environment names', () => {
  it('a Maze2D name without its version means the registered id; anything else suggests the closest', () => {
    assert.equal(resolveEnvName('maze2d-umaze-v1'), 'maze2d-umaze-v1');
    assert.equal(resolveEnvName('maze2d-umaze'), 'maze2d-umaze-v1');
    assert.equal(resolveEnvName('maze2d-open'), 'maze2d-open-v0');
    assert.equal(resolveEnvName('hopper'), 'hopper-v4');
    assert.throws(() => resolveEnvName('maze2d-umaz'), (error: unknown) => error instanceof UserError && /did you mean maze2d-umaze-v1\?/.test(error.message));
  });

  it('env run accepts maze2d-umaze (as data make does) and prints camelCase JSON with env once', () => {
    const result = stitch('env', 'run', 'maze2d-umaze', '--policy', 'zero', '--eval-episodes', '2', '--json');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /note: environment maze2d-umaze means maze2d-umaze-v1/);
    const summary = JSON.parse(result.stdout) as Record<string, unknown>;
    assert.equal(summary.env, 'maze2d-umaze-v1');
    assert.ok(!('envId' in summary), 'one name per fact');
    for (const key of Object.keys(summary)) assert.doesNotMatch(key, /_/, `${key} is camelCase`);
    assert.equal(summary.episodes, 2);
  });

  it('train --env takes the name without its version too', () => {
    // the unknown --set key stops the run right after the environment is resolved
    const result = stitch('train', '--algo', 'dt', '--env', 'maze2d-umaze', '--dataset', tinyDataset, '--set', 'nonsense=1');
    assert.equal(result.status, 2);
    assert.deepEqual(result.stderr.trim().split('\n').map((line) => line.replace(/ \(did.*/, '')), ['stitch: note: --env maze2d-umaze means maze2d-umaze-v1', 'stitch: invalid dt config: --set nonsense: no such field']);
    assertOneLineBadArguments(stitch('train', '--algo', 'dt', '--env', 'maze2d-umazee', '--dataset', tinyDataset), /^stitch: unknown environment 'maze2d-umazee' \(did you mean maze2d-umaze-v1\?\)/);
  });

  it('env run keeps --episodes and --envs as older spellings, and refuses two different values', () => {
    const older = stitch('env', 'run', 'maze2d-umaze-v1', '--policy', 'zero', '--episodes', '2', '--envs', '2', '--json');
    assert.equal(older.status, 0, older.stderr);
    assert.equal((JSON.parse(older.stdout) as { episodes: number }).episodes, 2);
    assertOneLineBadArguments(stitch('env', 'run', 'maze2d-umaze-v1', '--episodes', '2', '--eval-episodes', '3'), /--episodes is the older spelling of --eval-episodes/);
  });

  it('env list --json lists every id with its step limit and reference scores', () => {
    const result = stitch('env', 'list', '--json');
    assert.equal(result.status, 0, result.stderr);
    const list = JSON.parse(result.stdout) as Array<{ env: string; maxEpisodeSteps: number; referenceScores: { min: number; max: number }; aliasOf: string | null }>;
    const umaze = list.find((entry) => entry.env === 'maze2d-umaze-v1');
    assert.deepEqual(umaze?.referenceScores, { min: 23.85, max: 161.86 });
    assert.equal(umaze?.maxEpisodeSteps, 300);
    assert.equal(list.find((entry) => entry.env === 'hopper-medium-replay-v2')?.aliasOf, 'hopper-v4');
  });
});

describe('one spelling for output paths', () => {
  it('data convert takes --out like thin and make, and still takes OUT as an argument', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stitch-convert-'));
    const withFlag = stitch('data', 'convert', tinyDataset, '--out', join(dir, 'a.jsonl'));
    assert.equal(withFlag.status, 0, withFlag.stderr);
    const positional = stitch('data', 'convert', tinyDataset, join(dir, 'b.jsonl'));
    assert.equal(positional.status, 0, positional.stderr);
    assert.equal(readFileSync(join(dir, 'a.jsonl'), 'utf8'), readFileSync(join(dir, 'b.jsonl'), 'utf8'));
    assertOneLineBadArguments(stitch('data', 'convert', tinyDataset), /needs --out PATH/);
    assertOneLineBadArguments(stitch('data', 'convert', tinyDataset, join(dir, 'c.jsonl'), '--out', join(dir, 'd.jsonl')), /older spelling of --out/);
    assert.ok(!existsSync(join(dir, 'c.jsonl')) && !existsSync(join(dir, 'd.jsonl')));
  });
});

describe('JSON keys', () => {
  it('camelCaseKeys renames at every depth; fieldOf reads either spelling', () => {
    assert.deepEqual(camelCaseKeys({ normalized_score: 1, last: { mean_return: 2, conditions: [{ target_return: 3 }] }, obsDim: 4 }),
      { normalizedScore: 1, last: { meanReturn: 2, conditions: [{ targetReturn: 3 }] }, obsDim: 4 });
    assert.equal(fieldOf({ normalized_score: 5 }, 'normalizedScore'), 5, 'an old file');
    assert.equal(fieldOf({ normalizedScore: 6 }, 'normalizedScore'), 6);
  });
});

describe('docs/config-reference.md', () => {
  it('is what the zod schemas generate (run `node scripts/config-reference.mjs` after changing a schema)', () => {
    const committed = readFileSync(join(process.cwd(), 'docs/config-reference.md'), 'utf8');
    assert.equal(committed, renderConfigReference());
    assert.match(committed, /## rvdt[\s\S]*\| `emaStart` \| integer >= 0 \| `1000` \|/);
  });
});
