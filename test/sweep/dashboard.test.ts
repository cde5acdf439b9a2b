/**
 * The dashboard's sweep view: /api/sweeps lists the sweeps under the runs directory with their
 * job counts, failed jobs' errors and the results of finished runs; /sweeps serves its page.
 * The sweep here is written by hand (no training): two jobs, one finished, one failed.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDashboard, type Dashboard } from '../../src/dashboard/server.js';
import type { SweepView } from '../../src/dashboard/sweeps.js';
import { writeJobState } from '../../src/sweep/jobs.js';
import { launchChromium } from '../report/fixture.js';
import { tempDir } from '../train/fixture.js';

const record = (step: number, score: number): Record<string, unknown> => ({ step, normalized_score: score, mean_return: score / 2 });

describe('dashboard sweep view', () => {
  let dashboard: Dashboard;
  before(async () => {
    const runs = tempDir();
    const sweepDir = join(runs, 'sweeps', 'demo');
    const runDir = (name: string): string => join(sweepDir, 'runs', name);
    const job = (name: string, seed: number): Record<string, unknown> => ({ name, dataset: 'umaze', algorithm: 'dt', algo: 'dt', seed, point: {}, runDir: runDir(name), trainArgs: [] });
    mkdirSync(runDir('dt-umaze-seed0'), { recursive: true });
    writeFileSync(join(runDir('dt-umaze-seed0'), 'eval.json'), JSON.stringify({ last: record(40, 12.5), best: record(20, 30) }));
    writeFileSync(join(runDir('dt-umaze-seed0'), 'metrics.jsonl'), `${JSON.stringify({ step: 40, time_s: 3, steps_per_s: 20 })}\n`);
    writeFileSync(join(sweepDir, 'jobs.json'), JSON.stringify({
      format: 'stitch-sweep-index', formatVersion: 1, name: 'demo', runsDirectory: join(sweepDir, 'runs'), datasetFiles: {}, heldOut: null,
      jobs: [job('dt-umaze-seed0', 0), job('dt-umaze-seed1', 1)],
    }));
    writeJobState(sweepDir, { name: 'dt-umaze-seed1', status: 'failed', failures: 3, error: 'exit 2: stitch: bad width', host: 'h', pid: null, startedAt: null, finishedAt: null, mode: 'new' });
    dashboard = await startDashboard({ runsDir: runs, port: 0 });
  });
  after(async () => dashboard.close());

  it('lists the sweep with its counts, errors and results', async () => {
    const sweeps = await (await fetch(`${dashboard.url}/api/sweeps`)).json() as SweepView[];
    assert.equal(sweeps.length, 1);
    const [view] = sweeps as [SweepView];
    assert.equal(view.path, 'sweeps/demo');
    assert.deepEqual(view.problems, []);
    assert.deepEqual(view.status?.counts, { queued: 0, running: 0, done: 1, failed: 1 });
    assert.equal(view.status?.jobs.find((j) => j.name === 'dt-umaze-seed1')?.error, 'exit 2: stitch: bad width');
    assert.equal(view.results?.rows[0]?.last.mean, 12.5);
    assert.equal(view.results?.rows[0]?.best.mean, 30);
    assert.equal(view.results?.rows[0]?.missing, 1);
  });

  it('serves the sweep page: the typed client in its sweeps mode', async () => {
    const response = await fetch(`${dashboard.url}/sweeps`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /<title>Stitch sweeps<\/title>[\s\S]*<script type="application\/json" id="stitch-data">\{"mode":"sweeps"\}<\/script>/);
  });

  it('renders the counts, the results table and the failed job in a browser', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${dashboard.url}/sweeps`);
      await page.waitForSelector('section.sweep');
      assert.match(await page.textContent('p.counts') ?? '', /^1\/2 done, 0 running, 1 failed, 0 queued; ETA /);
      const text = await page.textContent('section.sweep') ?? '';
      assert.match(text, /12\.5 ± 0\.0/);
      assert.match(text, /dt-umaze-seed1failed.*exit 2: stitch: bad width/);
    } finally {
      await browser.close();
    }
  });
});
