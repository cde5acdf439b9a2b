/**
 * The sweep queue's own cost per job on a loopback redis-server (started here on a free port with
 * its own data directory): enqueue -> start (BullMQ's added -> processing, less any wait for the
 * previous job on the one worker) and finish -> recorded (the training process's end -> the
 * completion seen by another Redis client, as `stitch sweep status --queue` would), against the job's own time (its `stitch train` process: start, training of a tiny
 * run, evaluation, files). Reported as the ratio overhead / own time; it should be negligible.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, QueueEvents } from 'bullmq';
import { writeD4rlHdf5 } from '../src/data/hdf5.js';
import { generateMazeDataset } from '../src/envs/maze2d/generate.js';
import { mazeLayout } from '../src/envs/maze2d/layouts.js';
import { prepareSweepDirectory } from '../src/sweep/prepare.js';
import { enqueueSweep, QUEUE_NAME, startWorker, type QueuedJob, type QueuedResult } from '../src/sweep/queue.js';
import { expandSweep, parseSpec } from '../src/sweep/spec.js';
import type { BenchRow, BenchSection } from './types.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

export const run: BenchSection = async (options) => {
  if (spawnSync('redis-server', ['--version']).status !== 0) return [{ name: 'sweep-queue', skipped: 'redis-server is not installed (apt-get install redis-server)' }];
  const dir = mkdtempSync(join(tmpdir(), 'stitch-bench-sweep-'));
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  try {
    for (let i = 0; i < 50 && spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout?.trim() !== 'PONG'; i++) await sleep(100);
    const dataset = join(dir, 'umaze.hdf5');
    await writeD4rlHdf5(dataset, await generateMazeDataset({ datasetId: 'maze2d-umaze-v1', layout: mazeLayout('umaze'), maxEpisodeSteps: 300, rewardType: 'sparse', steps: 4000, seed: 0 }), { compression: 'none' });
    const seeds = Array.from({ length: options.quick ? 3 : 6 }, (_, i) => i);
    const sweep = expandSweep(parseSpec({
      name: 'bench',
      directory: join(dir, 'sweep'),
      datasets: [{ name: 'umaze', env: 'maze2d-umaze-v1', file: dataset }],
      algorithms: [{ algo: 'dt', overrides: { width: 16, layers: 1, heads: 1, mlpWidth: 32, context: 4, batchSize: 8, warmupSteps: 10 } }],
      seeds,
      budget: { steps: 100, checkpointEvery: 50 },
      evaluation: { every: 0, episodes: 1, envs: 1 },
    }, 'bench'), dir);
    prepareSweepDirectory(sweep);
    const events = new QueueEvents(QUEUE_NAME, { connection: { url, maxRetriesPerRequest: null } });
    const seenCompleted = new Map<string, number>();
    events.on('completed', ({ jobId }) => seenCompleted.set(jobId, Date.now()));
    await events.waitUntilReady();
    await enqueueSweep(sweep, url);
    const worker = await startWorker({ url, concurrency: 1, threads: 1, lockMs: 30_000, log: () => {} });
    const queue = new Queue<QueuedJob, QueuedResult>(QUEUE_NAME, { connection: { url, maxRetriesPerRequest: null } });
    try {
      while ((await queue.getJobCounts('completed')).completed < seeds.length || seenCompleted.size < seeds.length) await sleep(100);
      const jobs = (await queue.getJobs(['completed'])).sort((a, b) => (a.processedOn ?? 0) - (b.processedOn ?? 0));
      const startDelays: number[] = [];
      const recordDelays: number[] = [];
      const ownTimes: number[] = [];
      let previousFinish = 0;
      for (const job of jobs) {
        const processedOn = job.processedOn ?? 0;
        const finishedOn = job.finishedOn ?? 0;
        const endedAt = job.returnvalue.endedAt;
        const seen = seenCompleted.get(job.id ?? '') ?? Number.NaN;
        // one worker: a job waits for the previous one; only the gap after both exist is the queue's
        startDelays.push(processedOn - Math.max(job.timestamp, previousFinish));
        recordDelays.push(seen - endedAt);
        ownTimes.push(endedAt - processedOn);
        previousFinish = finishedOn;
      }
      const start = mean(startDelays);
      const record = mean(recordDelays);
      const own = mean(ownTimes);
      const row: BenchRow = {
        name: 'sweep-queue', jobs: jobs.length,
        enqueueToStartMs: start, finishToRecordedMs: record, jobOwnMs: own, overheadRatio: (start + record) / own,
      };
      return [row];
    } finally {
      await events.close();
      await queue.close();
      await worker.close();
    }
  } finally {
    const exited = new Promise((resolve) => redis.once('exit', resolve));
    redis.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
};
