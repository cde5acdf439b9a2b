/**
 * issue 21 item 10: the examples under examples/ run against the built package (as `stitch-rl`,
 * through package.json's exports), and the docs never call the async makeEnv without await.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const root = process.cwd();
const examplesDir = join(root, 'examples');

/** what each example must print; an example missing here fails the test, so none goes unchecked */
const EXPECTED: Record<string, RegExp[]> = {
  'train-and-deploy.mjs': [/^dataset: 6000 transitions in /m, /^trained: .*policy\.safetensors/m, /^deployed: one episode in maze2d-umaze-v1, return -?\d+\.\d\d, \d+ steps$/m],
  'locomotion-env.mjs': [/^hopper-medium-replay-v2 runs hopper-v4: 11 observations, 3 actions/m, /^one episode: return /m, /^zero actions over 4 episodes: mean return -?\d+\.\d\d, D4RL-normalized -?\d+\.\d$/m],
};

describe('examples/', () => {
  const examples = readdirSync(examplesDir).filter((name) => name.endsWith('.mjs')).sort();

  it('every example has its expected output listed here', () => {
    assert.deepEqual(examples, Object.keys(EXPECTED).sort());
  });

  for (const name of examples) {
    it(`${name} runs to the end`, { timeout: 120_000 }, () => {
      const work = mkdtempSync(join(tmpdir(), 'stitch-example-'));
      const result = spawnSync(process.execPath, [join(examplesDir, name), work], { encoding: 'utf8', cwd: work, env: { ...process.env, CI: '1' } });
      assert.equal(result.status, 0, result.stderr);
      for (const pattern of EXPECTED[name] ?? []) assert.match(result.stdout, pattern);
    });
  }
});

describe('docs call makeEnv with await', () => {
  it('no page or the README calls makeEnv( without await (it returns a Promise: env.reset is not a function)', () => {
    const pages = [join(root, 'README.md'), ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => join(root, 'docs', name))];
    const unawaited: string[] = [];
    for (const page of pages) {
      readFileSync(page, 'utf8').split('\n').forEach((line, i) => {
        for (const match of line.matchAll(/(\S+\s+)?makeEnv\(/g)) {
          if (!/await\s+$/.test(match[1] ?? '') && !/function|`makeEnv\(\)/.test(line)) unawaited.push(`${page}:${i + 1}: ${line.trim()}`);
        }
      });
    }
    assert.deepEqual(unawaited, []);
  });
});
