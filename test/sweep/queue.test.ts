/**
 * Sweeps on BullMQ with a real redis-server (started here on a free 127.0.0.1 port with its own
 * data directory): three `stitch worker`s share a sweep, one is SIGKILLed mid-job; every job
 * completes exactly once, the killed job is resumed from its checkpoint by another worker, and the
 * results equal a local sweep's. An unreachable Redis is a clear message and exit 2.
 * Skipped, visibly, without redis-server, unless STITCH_REQUIRE_REDIS=1 (.ci/run sets it).
 * With STITCH_TEST_REDIS_URL (.ci/run starts one) that server is used instead of a new one.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { readJobIndex } from '../../src/sweep/prepare.js';
import { smallMazeDataset, tempDir } from '../train/fixture.js';
import { CLI, env, finalEvaluations, freePort, newestCheckpointStep, redisAvailable, scoreTable, startRedis, stitch, TINY_STEPS, tinySpec, writeSpec, type RedisServer } from './helpers.js';

interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<unknown>;
}

function startWorkerProcess(url: string): WorkerProcess {
  const child = spawn(process.execPath, [CLI, 'worker', '--queue', url, '--threads', '1', '--lock-seconds', '2'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => { text += chunk.toString(); });
  child.stderr?.on('data', (chunk: Buffer) => { text += chunk.toString(); });
  return { child, output: () => text, exited: new Promise((resolve) => child.once('exit', resolve)) };
}

const count = (text: string, pattern: RegExp): number => text.match(new RegExp(pattern.source, 'gm'))?.length ?? 0;

describe('stitch sweep --queue and stitch worker (BullMQ + redis-server)', () => {
  const available = redisAvailable();
  if (!available && process.env.STITCH_REQUIRE_REDIS === '1') {
    it('needs redis-server (STITCH_REQUIRE_REDIS=1)', () => assert.fail('redis-server is not installed (apt-get install redis-server)'));
    return;
  }
  if (!available) console.log('# skipping the queue tests: redis-server is not installed (apt-get install redis-server; STITCH_REQUIRE_REDIS=1 makes this a failure)');

  let dir: string;
  let dataset: string;
  let redis: RedisServer | null = null;
  const workers: WorkerProcess[] = [];
  before(async () => {
    dir = tempDir();
    dataset = await smallMazeDataset(dir, 4000);
    const given = process.env.STITCH_TEST_REDIS_URL;
    if (given !== undefined && given !== '') redis = { url: given, stop: async () => {} };
    else if (available) redis = await startRedis(dir);
  });
  after(async () => {
    for (const worker of workers) {
      if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGTERM');
      await worker.exited;
    }
    await redis?.stop();
  });

  it('three workers, one SIGKILLed mid-job: every job completes exactly once, resumed not restarted, results equal a local sweep', { skip: !available }, async () => {
    const url = (redis as RedisServer).url;
    const queued = join(dir, 'queued');
    const enqueue = stitch(['sweep', writeSpec(join(dir, 'queued.json'), tinySpec(queued, dataset)), '--queue', url]);
    assert.equal(enqueue.status, 0, enqueue.stderr);
    assert.match(enqueue.stdout, /4 jobs enqueued/);
    // enqueuing again adds nothing
    assert.match(stitch(['sweep', join(dir, 'queued.json'), '--queue', url]).stdout, /0 jobs enqueued, 4 already in the queue/);

    for (let i = 0; i < 3; i++) workers.push(startWorkerProcess(url));
    const jobs = readJobIndex(queued).jobs;
    // the victim: the first worker seen holding a job whose run is past its first checkpoint and not near its end
    const findVictim = (): { worker: WorkerProcess; job: string } | null => {
      for (const job of jobs) {
        const step = newestCheckpointStep(job.runDir);
        if (step < 10 || step > TINY_STEPS - 20 || existsSync(join(job.runDir, 'eval.json'))) continue;
        const holder = workers.find((worker) => worker.output().includes(`${job.name}: starting a new run`));
        if (holder !== undefined) return { worker: holder, job: job.name };
      }
      return null;
    };
    let victim = findVictim();
    for (let i = 0; i < 2400 && victim === null; i++) {
      await sleep(50);
      victim = findVictim();
    }
    assert.ok(victim !== null, 'no job was caught between checkpoints');
    victim.worker.child.kill('SIGKILL');
    await victim.worker.exited;

    const allOutput = (): string => workers.map((worker) => worker.output()).join('\n');
    for (let i = 0; i < 2400 && !jobs.every((job) => allOutput().includes(`done ${job.name} `)); i++) await sleep(100);
    const everything = allOutput();
    for (const job of jobs) assert.equal(count(everything, new RegExp(`^done ${job.name} `)), 1, `${job.name} completed ${count(everything, new RegExp(`^done ${job.name} `))} times:\n${everything}`);
    const survivors = workers.filter((worker) => worker !== victim.worker).map((worker) => worker.output()).join('\n');
    assert.match(survivors, new RegExp(`^${victim.job}: resuming from its last checkpoint`, 'm'));
    assert.match(survivors, new RegExp(`^done ${victim.job} \\(resume,`, 'm'));
    assert.doesNotMatch(victim.worker.output(), new RegExp(`^done ${victim.job} `, 'm'));

    const status = stitch(['sweep', 'status', queued, '--queue', url]);
    assert.match(status.stdout, /sweep tiny: 4\/4 done, 0 running, 0 failed, 0 queued/);
    assert.match(status.stdout, /queue: 0 waiting, 0 active, 4 completed, 0 failed/);

    // the same sweep run locally
    const local = join(dir, 'local');
    const run = stitch(['sweep', writeSpec(join(dir, 'local.json'), tinySpec(local, dataset)), '--workers', '2', '--threads', '1']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(stitch(['sweep', 'report', queued]).status, 0);
    assert.deepEqual(finalEvaluations(queued), finalEvaluations(local));
    assert.deepEqual(scoreTable(queued), scoreTable(local));
  });

  it('an unreachable Redis is one clear line and exit 2, for sweep, worker and status', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const spec = writeSpec(join(dir, 'unreachable.json'), tinySpec(join(dir, 'unreachable'), dataset));
    for (const args of [['sweep', spec, '--queue', url], ['worker', '--queue', url], ['sweep', 'status', spec, '--queue', url]]) {
      const { status, stderr } = stitch(args, 30_000);
      assert.equal(status, 2, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, /^stitch: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ \(connect ECONNREFUSED/);
      assert.equal(stderr.trim().split('\n').length, 1);
    }
    assert.equal(existsSync(join(dir, 'unreachable')), false);
    const bad = stitch(['worker', '--queue', 'http://127.0.0.1:1']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /expected redis:\/\/HOST:PORT/);
  });
});
