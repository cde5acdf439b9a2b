/** A tiny sweep (2 algorithms x 2 seeds, a few dozen steps), the CLI, and a private redis-server. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { listCheckpoints } from '../../src/train/checkpoint.js';
import { ENV, TINY_CONFIGS } from '../train/fixture.js';

export const CLI = 'dist/src/cli/main.js';
export const env = { ...process.env, CI: '1' };

export function stitch(args: string[], timeoutMs = 120_000): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env, timeout: timeoutMs });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export const TINY_STEPS = 60;

/** the sweep file's object: every run checkpoints every 10 steps, so a kill lands between checkpoints */
export function tinySpec(directory: string, dataset: string): Record<string, unknown> {
  return {
    name: 'tiny',
    directory,
    datasets: [{ name: 'umaze', env: ENV, file: dataset }],
    algorithms: [
      { algo: 'dt', overrides: TINY_CONFIGS.dt },
      { algo: 'reinformer', overrides: TINY_CONFIGS.reinformer },
    ],
    seeds: [0, 1],
    budget: { steps: TINY_STEPS, checkpointEvery: 10, logEvery: 5 },
    evaluation: { every: 30, episodes: 1, envs: 1 },
  };
}

export function writeSpec(path: string, spec: Record<string, unknown>): string {
  writeFileSync(path, JSON.stringify(spec, null, 2));
  return path;
}

/** every run's last and best evaluation (what the results are computed from) */
export function finalEvaluations(sweepDir: string): Record<string, unknown> {
  const runs = join(sweepDir, 'runs');
  const out: Record<string, unknown> = {};
  for (const name of readdirSync(runs).sort()) {
    const evaluation = JSON.parse(readFileSync(join(runs, name, 'eval.json'), 'utf8')) as { last: unknown; best: unknown };
    out[name] = { last: evaluation.last, best: evaluation.best };
  }
  return out;
}

/** results.json without the wall-clock columns */
export function scoreTable(sweepDir: string): unknown {
  const results = JSON.parse(readFileSync(join(sweepDir, 'results.json'), 'utf8')) as { rows: Array<Record<string, unknown>> };
  return results.rows.map(({ trainSeconds: _seconds, stepsPerSecond: _rate, ...rest }) => rest);
}

export const newestCheckpointStep = (runDir: string): number => (existsSync(runDir) ? listCheckpoints(runDir)[0]?.step ?? 0 : 0);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export const redisAvailable = (): boolean => spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0;

export interface RedisServer {
  url: string;
  stop: () => Promise<void>;
}

/** redis-server on a free 127.0.0.1 port, with its own data directory and no persistence */
export async function startRedis(dir: string): Promise<RedisServer> {
  const port = await freePort();
  const dataDir = join(dir, 'redis');
  mkdirSync(dataDir, { recursive: true });
  const server: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dataDir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const ping = spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' });
    if (ping.stdout?.trim() === 'PONG') break;
    await sleep(100);
  }
  return {
    url,
    stop: async () => {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    },
  };
}
