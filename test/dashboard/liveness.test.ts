/**
 * A killed run showed "in progress" forever (issue 21, item 6). The status now comes from the
 * trainer's heartbeat.json (its age and, on this host, its process), or, without one, from the
 * age of the newest run file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { HEARTBEAT_STALE_SECONDS, NO_HEARTBEAT_STALE_SECONDS, RunReader, type Heartbeat } from '../../src/report/run-data.js';
import { tempDir } from '../report/fixture.js';

/** the id of a process that has exited */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

function run(heartbeat: Partial<Heartbeat> | null, files: Record<string, string> = {}): string {
  const dir = join(tempDir(), 'run');
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ algo: 'dt', env: 'maze2d-umaze-v1', steps: 100 }));
  writeFileSync(join(dir, 'metrics.jsonl'), '{"step":10,"time_s":1,"action_loss":0.5}\n');
  if (heartbeat !== null) {
    const full: Heartbeat = { pid: process.pid, hostname: hostname(), updatedAt: new Date().toISOString(), phase: 'train', step: 10, steps: 100, evaluation: null, ...heartbeat };
    writeFileSync(join(dir, 'heartbeat.json'), JSON.stringify(full));
  }
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('run liveness from the heartbeat', () => {
  it('a live heartbeat is in progress, with the evaluation\'s progress', () => {
    const evaluation = { episodesDone: 12, episodesTotal: 100, meanReturnSoFar: 3.5, etaSeconds: 40 };
    const snapshot = new RunReader(run({ phase: 'eval', evaluation })).snapshot();
    assert.equal(snapshot.status, 'in progress');
    assert.deepEqual(snapshot.liveness.heartbeat?.evaluation, evaluation);
  });

  it('a killed run is stale: its process is gone, or its heartbeat is old', () => {
    const gone = new RunReader(run({ pid: deadPid() })).snapshot();
    assert.equal(gone.status, 'stale');
    assert.match(gone.liveness.reason ?? '', /process \d+ is gone/);
    const old = new Date(Date.now() - (HEARTBEAT_STALE_SECONDS + 5) * 1000).toISOString();
    const silent = new RunReader(run({ updatedAt: old, hostname: 'another-machine' })).snapshot();
    assert.equal(silent.status, 'stale');
    assert.match(silent.liveness.reason ?? '', /no heartbeat for 3\d s/);
  });

  it('goes stale while watched, with no file changing', () => {
    const dir = run({ updatedAt: new Date().toISOString(), hostname: 'another-machine' });
    const reader = new RunReader(dir);
    assert.equal(reader.snapshot().status, 'in progress');
    assert.equal(reader.snapshot(Date.now() + (HEARTBEAT_STALE_SECONDS + 1) * 1000).status, 'stale');
  });

  it('a run that ended says how: finished, interrupted or halted, never stale', () => {
    const old = new Date(Date.now() - 3600_000).toISOString();
    for (const phase of ['finished', 'interrupted', 'halted'] as const) {
      assert.equal(new RunReader(run({ phase, pid: deadPid(), updatedAt: old })).snapshot().status, phase);
    }
  });

  it('a malformed heartbeat is a problem, and the file ages decide', () => {
    const snapshot = new RunReader(run(null, { 'heartbeat.json': '{"pid":"x"}' })).snapshot();
    assert.equal(snapshot.status, 'in progress');
    assert.ok(snapshot.problems.some((problem) => /heartbeat\.json: not a heartbeat record/.test(problem)), snapshot.problems.join('; '));
  });
});

describe('run liveness without a heartbeat (runs from before heartbeats)', () => {
  it('is in progress while files are written and stale once none has been for a while', () => {
    const dir = run(null);
    assert.equal(new RunReader(dir).snapshot().status, 'in progress');
    const past = (Date.now() - (NO_HEARTBEAT_STALE_SECONDS + 60) * 1000) / 1000;
    for (const name of ['config.json', 'metrics.jsonl']) utimesSync(join(dir, name), past, past);
    const stale = new RunReader(dir).snapshot();
    assert.equal(stale.status, 'stale');
    assert.match(stale.liveness.reason ?? '', /no heartbeat, and no file written for 1\d min/);
  });

  it('a run with eval.json is finished whatever its age', () => {
    const record = { step: 100, env: 'maze2d-umaze-v1', episodes: 1, seed: 0, headline: 't', normalized_score: 1, normalized_std: 0, mean_return: 1, std_return: 0, conditions: [] };
    const dir = run(null, { 'eval.json': JSON.stringify({ last: record, best: record }) });
    const past = (Date.now() - 3600_000) / 1000;
    for (const name of ['config.json', 'metrics.jsonl', 'eval.json']) utimesSync(join(dir, name), past, past);
    assert.equal(new RunReader(dir).snapshot().status, 'finished');
  });

  it('reads the camelCase keys of newer eval files like the snake_case ones', () => {
    const condition = { label: 't', targetReturn: 60, normalizedScore: 7, normalizedStd: 0, meanReturn: 1, stdReturn: 0, meanLength: 5, returns: [1], lengths: [5], candidateChoices: null };
    const record = { step: 100, env: 'maze2d-umaze-v1', episodes: 1, seed: 0, headline: 't', normalizedScore: 7, normalizedStd: 0, meanReturn: 1, stdReturn: 0, conditions: [condition] };
    const dir = run(null, { 'eval.json': JSON.stringify({ last: record, best: record, bestRule: 'highest' }), 'evaluations.jsonl': `${JSON.stringify(record)}\n` });
    const snapshot = new RunReader(dir).snapshot();
    assert.equal(snapshot.status, 'finished');
    assert.equal(snapshot.final?.last.normalized_score, 7);
    assert.equal(snapshot.final?.best_rule, 'highest');
    assert.equal(snapshot.evaluations[0]?.mean_return, 1);
    assert.equal(snapshot.final?.last.conditions[0]?.target_return, 60, 'nested condition keys too');
    assert.equal(snapshot.evaluations[0]?.conditions[0]?.target_return, 60);
  });

  it('reads provenance.json (issue 21, item 7); a malformed one is a problem, not an error', () => {
    const session = { kind: 'start', startedAt: '2026-01-02T03:04:05.000Z', fromStep: 0, stitchVersion: '0.1.0', gitCommit: null, commandLine: ['stitch', 'train'] };
    const good = new RunReader(run(null, { 'provenance.json': JSON.stringify({ format: 'stitch-provenance', formatVersion: 1, sessions: [session] }) })).snapshot();
    assert.deepEqual(good.provenance, [session]);
    assert.deepEqual(good.problems, []);
    const bad = new RunReader(run(null, { 'provenance.json': JSON.stringify({ sessions: [{ ...session, commandLine: 'rm -rf /' }] }) })).snapshot();
    assert.deepEqual(bad.provenance, []);
    assert.deepEqual(bad.problems, ['provenance.json: not a provenance record']);
    assert.deepEqual(new RunReader(run(null)).snapshot().provenance, [], 'a run from before provenance.json');
  });
});
