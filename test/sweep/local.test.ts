/**
 * `stitch sweep` on this machine: a tiny sweep end to end; the same sweep SIGKILLed mid-way and
 * run again ends with the same results as the uninterrupted one; bad sweep files are one line
 * naming the field, exit 2, nothing created.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import { readJobState } from '../../src/sweep/jobs.js';
import { smallMazeDataset, tempDir } from '../train/fixture.js';
import { CLI, env, finalEvaluations, newestCheckpointStep, scoreTable, stitch, TINY_STEPS, tinySpec, writeSpec } from './helpers.js';

describe('stitch sweep, local', () => {
  let dir: string;
  let dataset: string;
  before(async () => {
    dir = tempDir();
    dataset = await smallMazeDataset(dir, 4000);
  });

  it('--dry-run prints the expanded jobs and creates nothing', () => {
    const sweepDir = join(dir, 'dry');
    const spec = tinySpec(sweepDir, dataset);
    const { status, stdout } = stitch(['sweep', writeSpec(join(dir, 'dry.json'), { ...spec, grid: { lr: [0.001, 0.0003] } }), '--dry-run']);
    assert.equal(status, 0);
    const lines = stdout.trim().split('\n');
    assert.match(lines[0] as string, /^sweep tiny: 8 jobs/);
    assert.match(stdout, /^dt-umaze-seed0-lr=0\.001\tstitch train --algo dt .*--seed 0 .*--steps 60 .*--set lr=0\.001 --out /m);
    assert.match(stdout, /^reinformer-umaze-seed1-lr=0\.0003\t/m);
    assert.equal(existsSync(sweepDir), false);
  });

  it('runs a tiny sweep end to end: run directories, job states, results in markdown, CSV and HTML', () => {
    const sweepDir = join(dir, 'whole');
    const { status, stdout, stderr } = stitch(['sweep', writeSpec(join(dir, 'whole.yaml'), tinySpec(sweepDir, dataset)), '--workers', '2', '--threads', '1']);
    assert.equal(status, 0, stderr);
    assert.match(stdout, /sweep tiny: 4 jobs done, 0 failed/);
    for (const name of ['dt-umaze-seed0', 'dt-umaze-seed1', 'reinformer-umaze-seed0', 'reinformer-umaze-seed1']) {
      assert.ok(existsSync(join(sweepDir, 'runs', name, 'eval.json')), name);
      assert.equal(readJobState(sweepDir, name)?.status, 'done');
    }
    const markdown = readFileSync(join(sweepDir, 'results.md'), 'utf8');
    assert.match(markdown, /\| umaze \| dt \| 2 \| -?\d+\.\d ± \d+\.\d \| -?\d+\.\d \[-?\d+\.\d, -?\d+\.\d\] \|/);
    assert.match(markdown, /Last: the final evaluation\. Best: the highest evaluation/);
    const csv = readFileSync(join(sweepDir, 'results.csv'), 'utf8').trim().split('\n');
    assert.equal(csv.length, 3);
    assert.match(csv[0] as string, /^dataset,algorithm,grid,seeds,missing,score,lastMean,lastStd,lastIqm,lastIqmLow,lastIqmHigh,bestMean/);
    assert.match(readFileSync(join(sweepDir, 'comparison.html'), 'utf8'), /umaze · reinformer/);

    // the same command again: everything is finished, nothing is trained again
    const again = stitch(['sweep', join(dir, 'whole.yaml'), '--workers', '2', '--threads', '1']);
    assert.equal(again.status, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /starting a new run|resuming/);
    const status2 = stitch(['sweep', 'status', sweepDir]);
    assert.match(status2.stdout, /sweep tiny: 4\/4 done, 0 running, 0 failed, 0 queued/);

    // a sweep file whose runs exist but whose sweep directory does not: reported from the file
    const fromFile = writeSpec(join(dir, 'from-file.yaml'), { ...tinySpec(join(dir, 'from-file'), dataset), runs: join(sweepDir, 'runs') });
    assert.match(stitch(['sweep', 'status', fromFile]).stdout, /sweep tiny: 4\/4 done/);
    const report = stitch(['sweep', 'report', fromFile]);
    assert.equal(report.status, 0, report.stderr);
    assert.deepEqual(scoreTable(join(dir, 'from-file')), scoreTable(sweepDir));
  });

  it('SIGKILLed mid-sweep and run again, it resumes from checkpoints and ends with the uninterrupted results', async () => {
    const sweepDir = join(dir, 'killed');
    const specPath = writeSpec(join(dir, 'killed.yaml'), tinySpec(sweepDir, dataset));
    const child = spawn(process.execPath, [CLI, 'sweep', specPath, '--workers', '2', '--threads', '1'], { env, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // wait until a run is between checkpoints (past its first, before its last), then kill the sweep process alone:
    // its training processes must die with it (they are tethered to it)
    const firstRun = join(sweepDir, 'runs', 'dt-umaze-seed0');
    for (let i = 0; i < 1200 && newestCheckpointStep(firstRun) < 10; i++) await sleep(50);
    assert.ok(newestCheckpointStep(firstRun) >= 10 && newestCheckpointStep(firstRun) < TINY_STEPS, 'the first run was not caught mid-way');
    child.kill('SIGKILL');
    await exited;
    // status: the killed sweep's running jobs are not running any more
    let status = stitch(['sweep', 'status', sweepDir]).stdout;
    for (let i = 0; i < 10 && !/ 0 running/.test(status); i++) status = stitch(['sweep', 'status', sweepDir]).stdout;
    assert.match(status, /, 0 running, 0 failed, \d queued/);
    assert.match(status, /^queued +dt-umaze-seed0: interrupted: its process is gone/m);
    const rerun = stitch(['sweep', specPath, '--workers', '2', '--threads', '1']);
    assert.equal(rerun.status, 0, rerun.stderr);
    assert.match(rerun.stderr, /dt-umaze-seed0: resuming from its last checkpoint/);
    assert.equal(readJobState(sweepDir, 'dt-umaze-seed0')?.mode, 'resume');
    assert.deepEqual(finalEvaluations(sweepDir), finalEvaluations(join(dir, 'whole')));
    assert.deepEqual(scoreTable(sweepDir), scoreTable(join(dir, 'whole')));
  });

  it('a job that keeps failing is marked failed with its error after its tries; the others finish', () => {
    const sweepDir = join(dir, 'failing');
    const spec = tinySpec(sweepDir, dataset);
    const algorithms = [
      // a width the heads do not divide: `stitch train` refuses it at once (exit 2)
      { algo: 'dt', label: 'broken', overrides: { width: 15, layers: 1, heads: 2, mlpWidth: 32, context: 4, batchSize: 8 } },
      (spec.algorithms as unknown[])[0],
    ];
    const { status, stdout, stderr } = stitch(['sweep', writeSpec(join(dir, 'failing.json'), { ...spec, algorithms, seeds: [0], attempts: 2 }), '--threads', '1']);
    assert.equal(status, 1, stderr);
    assert.match(stdout, /sweep tiny: 1 jobs done, 1 failed/);
    assert.match(stdout, /^failed broken-umaze-seed0: exit 2: stitch: /m);
    assert.match(stderr, /retrying broken-umaze-seed0 \(try 1 of 2\)/);
    const state = readJobState(sweepDir, 'broken-umaze-seed0');
    assert.equal(state?.status, 'failed');
    assert.equal(state?.failures, 2);
    assert.match(state?.error ?? '', /^exit 2: stitch: .*width/);
    assert.ok(existsSync(join(sweepDir, 'runs', 'dt-umaze-seed0', 'eval.json')));
    assert.match(stitch(['sweep', 'status', sweepDir]).stdout, /1\/2 done, 0 running, 1 failed, 0 queued[\s\S]*failed +broken-umaze-seed0: exit 2/);
  });

  it('refuses an invalid sweep file in one line naming the field, exit 2, creating nothing', () => {
    const sweepDir = join(dir, 'bad');
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...tinySpec(sweepDir, dataset), seeds: [0, -1] }, /^stitch: bad\.json: seeds\.1: .*>=0/],
      [{ ...tinySpec(sweepDir, dataset), budget: { steps: 'many' } }, /^stitch: bad\.json: budget\.steps: /],
      [{ ...tinySpec(sweepDir, dataset), extra: 1 }, /^stitch: bad\.json: .*extra/],
      [{ ...tinySpec(sweepDir, dataset), datasets: [{ name: 'x', env: 'maze2d-umaze-v1' }] }, /^stitch: bad\.json: datasets\.0: give exactly one of file or make/],
      [{ ...tinySpec(sweepDir, dataset), algorithms: [{ algo: 'dt' }, { algo: 'dt' }] }, /^stitch: algorithms\.1: the label dt is used twice/],
    ];
    for (const [spec, pattern] of cases) {
      const { status, stderr } = stitch(['sweep', writeSpec(join(dir, 'bad.json'), spec)]);
      assert.equal(status, 2, stderr);
      assert.equal(stderr.trim().split('\n').length, 1, stderr);
      assert.match(stderr, pattern);
    }
    writeFileSync(join(dir, 'broken.yaml'), 'name: [unclosed\n');
    const broken = stitch(['sweep', join(dir, 'broken.yaml')]);
    assert.equal(broken.status, 2);
    assert.match(broken.stderr, /^stitch: .*broken\.yaml: not valid YAML/);
    assert.equal(existsSync(sweepDir), false);
  });
});
