/**
 * A short Decision Transformer run on a small locomotion dataset (uniform-random Hopper actions)
 * through train, eval and report, as a user would run it from the command line.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { tempDir } from './fixture.js';

function stitch(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['dist/src/cli/main.js', ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
}

const TINY = { width: 16, layers: 1, heads: 1, mlpWidth: 32, context: 4, batchSize: 8, warmupSteps: 5, targetReturns: [200, 100] };

describe('a DT run on Hopper end to end', () => {
  let dir: string;
  let dataset: string;
  let run: string;
  before(() => {
    dir = tempDir();
    dataset = join(dir, 'hopper-random.hdf5');
    run = join(dir, 'run');
  });

  it('makes a dataset, trains, evaluates, reports', () => {
    const made = stitch('data', 'make', 'hopper-random-v4', '--out', dataset, '--steps', '3000', '--seed', '1');
    assert.equal(made.status, 0, made.stderr);
    const sets = Object.entries(TINY).flatMap(([key, value]) => ['--set', `${key}=${JSON.stringify(value)}`]);
    const trained = stitch('train', '--algo', 'dt', '--dataset', dataset, '--env', 'hopper-medium-replay-v2', '--preset', 'none',
      '--steps', '20', '--eval-every', '10', '--eval-episodes', '2', ...sets, '--out', run);
    assert.equal(trained.status, 0, trained.stderr);
    const evaluation = JSON.parse(readFileSync(join(run, 'eval.json'), 'utf8')) as { env: string; normalizedScore: number; last: { conditions: Array<{ targetReturn: number }> } };
    assert.equal(evaluation.env, 'hopper-medium-replay-v2');
    assert.ok(Number.isFinite(evaluation.normalizedScore), 'D4RL hopper constants give a normalized score');
    assert.deepEqual(evaluation.last.conditions.map((c) => c.targetReturn), [200, 100]);

    const evaluated = stitch('eval', run, '--json');
    assert.equal(evaluated.status, 0, evaluated.stderr);
    assert.deepEqual(JSON.parse(evaluated.stdout), JSON.parse(readFileSync(join(run, 'eval.json'), 'utf8')).last, 'stitch eval reproduces the final evaluation');

    const reported = stitch('report', run);
    assert.equal(reported.status, 0, reported.stderr);
    const html = readFileSync(join(run, 'report.html'), 'utf8');
    assert.ok(existsSync(join(run, 'report.html')) && html.includes('hopper-medium-replay-v2'));
  });
});
