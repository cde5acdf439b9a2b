/** Tiny real training runs and a headless Chromium, shared by the report and dashboard tests. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chromium, type Browser } from 'playwright-core';
import { ENV, TINY_DT, TINY_REINFORMER } from '../train/fixture.js';

export { ENV, smallMazeDataset, tempDir } from '../train/fixture.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';

const flagsOf = (settings: Record<string, unknown>): string[] => Object.entries(settings).flatMap(([key, value]) => ['--set', `${key}=${JSON.stringify(value)}`]);

export interface CliResult { status: number | null; stdout: string; stderr: string }

export function stitch(...args: string[]): CliResult {
  return spawnSync(process.execPath, ['dist/src/cli/main.js', ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
}

/** `stitch train` of a tiny model for `steps` steps, evaluated twice (so curves have two points) */
export function trainTiny(algo: 'dt' | 'reinformer', dataset: string, out: string, seed = 0, steps = 40): CliResult {
  const result = stitch('train', '--algo', algo, '--dataset', dataset, '--env', ENV, '--steps', String(steps), '--seed', String(seed),
    '--eval-every', String(steps / 2), '--eval-episodes', '3', '--log-every', String(steps / 8), ...flagsOf(algo === 'dt' ? TINY_DT : TINY_REINFORMER), '--out', out);
  if (result.status !== 0) throw new Error(`stitch train failed: ${result.stderr}`);
  return result;
}

/** a long tiny-DT run in the background (no evaluation until the end), for watching live */
export function trainInBackground(dataset: string, out: string): ChildProcess {
  return spawn(process.execPath, ['dist/src/cli/main.js', 'train', '--algo', 'dt', '--dataset', dataset, '--env', ENV, '--steps', '200000',
    '--eval-every', '0', '--eval-episodes', '1', '--log-every', '20', '--checkpoint-every', '0', ...flagsOf(TINY_DT), '--out', out], { stdio: 'ignore', env: { ...process.env, CI: '1' } });
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
}
