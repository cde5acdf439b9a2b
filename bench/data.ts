/**
 * Data layer: load a D4RL-layout file of 4M transitions (maze2d-large size) and build its
 * trajectory store, against h5py reading the same file; then the cost of one 256-window batch.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/engine/rng.js';
import { writeD4rlHdf5 } from '../src/data/hdf5.js';
import { inspectDataset } from '../src/data/load.js';
import { returnsToGo, stateStatistics } from '../src/data/preprocess.js';
import { WindowSampler, samplingRulesFor } from '../src/data/sampler.js';
import type { BenchRow, BenchSection } from './types.js';

function synthetic(rows: number): Parameters<typeof writeD4rlHdf5>[1] {
  const rng = new Rng(1);
  const observations = new Float32Array(rows * 4);
  for (let i = 0; i < observations.length; i++) observations[i] = rng.normal();
  const actions = new Float32Array(rows * 2);
  for (let i = 0; i < actions.length; i++) actions[i] = rng.uniform() * 2 - 1;
  const rewards = new Float32Array(rows);
  const timeouts = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) {
    rewards[i] = rng.uniform() < 0.3 ? 1 : 0;
    if (rng.int(200) === 0) timeouts[i] = 1;
  }
  timeouts[rows - 1] = 1;
  const goal = new Float32Array(rows * 2);
  for (let i = 0; i < goal.length; i++) goal[i] = observations[(i >> 1) * 4 + (i & 1)]!;
  return { observations, actions, rewards, terminals: new Uint8Array(rows), timeouts, obsDim: 4, actionDim: 2, infos: { goal: { data: goal, dim: 2 } } };
}

/** A python3 that has h5py (Debian's /usr/bin/python3 does; a pyenv shim may not). */
function pythonWithH5py(): string | undefined {
  return ['python3', '/usr/bin/python3'].find((python) => spawnSync(python, ['-c', 'import h5py'], { stdio: 'ignore' }).status === 0);
}

/** Peak RSS of a fresh Node process that loads the file, so earlier sections do not inflate it. */
function measureInChild(path: string): { seconds: number; peakRssMiB: number } {
  const script = `
    const { inspectDataset } = await import(${JSON.stringify(new URL('../src/data/load.js', import.meta.url).href)});
    const start = process.hrtime.bigint();
    const loaded = await inspectDataset(${JSON.stringify(path)});
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (loaded.store.transitionCount === 0) throw new Error('empty store');
    console.log(JSON.stringify({ seconds, peakRssMiB: process.resourceUsage().maxRSS / 1024 }));`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`bench child failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as { seconds: number; peakRssMiB: number };
}

export const run: BenchSection = async (options) => {
  const rows = options.quick ? 200_000 : 4_000_000;
  const dir = mkdtempSync(join(tmpdir(), 'stitch-bench-data-'));
  const path = join(dir, 'maze2d-synthetic.hdf5');
  const out: BenchRow[] = [];
  try {
    const writeStart = process.hrtime.bigint();
    await writeD4rlHdf5(path, synthetic(rows));
    const writeSeconds = Number(process.hrtime.bigint() - writeStart) / 1e9;
    const stitch = measureInChild(path);
    const load: BenchRow = { name: 'load D4RL hdf5 + build store', transitions: rows, fileMiB: statSync(path).size / 2 ** 20, seconds: stitch.seconds, peakRssMiB: stitch.peakRssMiB, writeSeconds };
    const python = pythonWithH5py();
    if (python !== undefined) {
      const script = `import h5py, resource, sys, time
t = time.perf_counter()
with h5py.File(sys.argv[1], 'r') as f:
    data = {k: f[k][:] for k in ['observations', 'actions', 'rewards', 'terminals', 'timeouts', 'infos/goal']}
s = time.perf_counter() - t
print(s, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)`;
      const result = spawnSync(python, ['-c', script, path], { encoding: 'utf8' });
      if (result.status === 0) {
        const [seconds, peak] = result.stdout.trim().split(' ').map(Number);
        Object.assign(load, { h5pySeconds: seconds!, h5pyPeakRssMiB: peak!, ratioVsH5py: stitch.seconds / seconds! });
      }
    }
    out.push(load);

    const loaded = await inspectDataset(path);
    const store = loaded.store;
    const sampler = new WindowSampler(store, { ...samplingRulesFor('dt'), batchSize: 256, contextLength: 20, returnsToGo: returnsToGo(store, { scale: 10 }), stateStatistics: stateStatistics(store) }, new Rng(0));
    const warm = options.quick ? 50 : 200;
    for (let i = 0; i < warm; i++) sampler.sample();
    const repeats = options.quick ? 200 : 2000;
    const cpuBefore = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (let i = 0; i < repeats; i++) sampler.sample();
    const microseconds = Number(process.hrtime.bigint() - start) / 1000 / repeats;
    const cpu = process.cpuUsage(cpuBefore);
    out.push({ name: 'sample 256 windows (K=20, obs 4, act 2)', microsecondsPerBatch: microseconds, cpuMicrosecondsPerBatch: (cpu.user + cpu.system) / repeats, episodes: store.episodeCount });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
};
