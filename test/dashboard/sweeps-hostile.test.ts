/**
 * The dashboard's sweep view against hostile sweep directories (issue 15's rules, applied to the
 * view issue 20 added): `/sweeps` once set innerHTML from /api/sweeps, so a sweep name, job name
 * or job error from disk ran script in the dashboard's origin, and the page had no CSP;
 * `/api/sweeps` read job indexes and run files without the regular-file and size rules (a FIFO
 * froze the server, /dev/zero grew it), followed sweep directories and run directories out of the
 * runs directory, and read everything again on every poll of every client.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startDashboard, type Dashboard } from '../../src/dashboard/server.js';
import { SweepsDirectory, type SweepView } from '../../src/dashboard/sweeps.js';
import { pagePolicy } from '../../src/report/page.js';
import { writeJobState, type JobState } from '../../src/sweep/jobs.js';
import { headerPolicy } from '../../src/util/local-server.js';
import { launchChromium, tempDir } from '../report/fixture.js';

const HOSTILE_DIR = '<img src=x onerror=window.__pwned=\'dir\'>';
const HOSTILE_NAME = '<script>window.__pwned=\'name\'</script>';
const HOSTILE_JOB = '<svg onload=window.__pwned=\'job\'>';
const HOSTILE_DATASET = '<img src=x onerror=window.__pwned=\'dataset\'>';
const HOSTILE_ALGORITHM = '<script>window.__pwned=\'algorithm\'</script>';
const HOSTILE_ERROR = '<img src="x" onerror="window.__pwned=\'error\'"><script>window.__pwned=\'error-script\'</script>';
const HOSTILE_HOST = '<b onmouseover="window.__pwned=\'host\'">host</b>';

const evaluation = (score: number): string => JSON.stringify({ last: { step: 10, normalized_score: score }, best: { step: 10, normalized_score: score } });

function state(name: string, change: Partial<JobState> = {}): JobState {
  return { name, status: 'queued', failures: 0, error: null, host: null, pid: null, startedAt: null, finishedAt: null, mode: null, ...change };
}

/** a sweep directory with this job index; each job's run directory defaults to SWEEP/runs/NAME */
function writeSweep(dir: string, name: string, jobs: Array<{ name: string; runDir?: string; dataset?: string; algorithm?: string }>): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'jobs.json'), JSON.stringify({
    format: 'stitch-sweep-index', formatVersion: 1, name, runsDirectory: join(dir, 'runs'), datasetFiles: {}, heldOut: null,
    jobs: jobs.map((job, seed) => ({
      name: job.name, dataset: job.dataset ?? 'umaze', algorithm: job.algorithm ?? 'dt', algo: 'dt', seed, point: {},
      runDir: job.runDir ?? join(dir, 'runs', job.name), trainArgs: [],
    })),
  }));
}

const api = async (dashboard: Dashboard): Promise<{ views: SweepView[]; text: string }> => {
  // a server frozen by a FIFO would never answer: fail instead of hanging the suite
  const response = await fetch(`${dashboard.url}/api/sweeps`, { signal: AbortSignal.timeout(20_000) });
  const text = await response.text();
  return { views: JSON.parse(text) as SweepView[], text };
};

describe('the sweep view against hostile sweep directories', () => {
  let root: string;
  let runs: string;
  let dashboard: Dashboard;
  let browser: Browser | undefined;
  before(async () => {
    root = tempDir();
    runs = join(root, 'runs');
    const sweeps = join(runs, 'sweeps');

    // injection: every string the view shows comes from the files
    const hostile = join(sweeps, HOSTILE_DIR);
    writeSweep(hostile, HOSTILE_NAME, [{ name: HOSTILE_JOB, dataset: HOSTILE_DATASET, algorithm: HOSTILE_ALGORITHM }, { name: 'failed-job' }]);
    mkdirSync(join(hostile, 'runs', HOSTILE_JOB), { recursive: true });
    writeFileSync(join(hostile, 'runs', HOSTILE_JOB, 'eval.json'), evaluation(55));
    writeJobState(hostile, state('failed-job', { status: 'failed', failures: 3, error: HOSTILE_ERROR, host: HOSTILE_HOST }));

    // files that froze or grew the server
    const fifoIndex = join(sweeps, 'fifo-index');
    mkdirSync(fifoIndex);
    execFileSync('mkfifo', [join(fifoIndex, 'jobs.json')]);
    mkdirSync(join(sweeps, 'zero-index'));
    symlinkSync('/dev/zero', join(sweeps, 'zero-index', 'jobs.json'));
    const files = join(sweeps, 'files');
    writeSweep(files, 'files', [{ name: 'fifo-state' }, { name: 'zero-state' }, { name: 'fifo-run' }, { name: 'zero-run' }]);
    mkdirSync(join(files, 'jobs'));
    execFileSync('mkfifo', [join(files, 'jobs', 'fifo-state.json')]);
    symlinkSync('/dev/zero', join(files, 'jobs', 'zero-state.json'));
    mkdirSync(join(files, 'runs', 'fifo-run'), { recursive: true });
    execFileSync('mkfifo', [join(files, 'runs', 'fifo-run', 'metrics.jsonl')]);
    execFileSync('mkfifo', [join(files, 'runs', 'fifo-run', 'heartbeat.json')]);
    writeJobState(files, state('fifo-run', { status: 'running', host: 'elsewhere', pid: 1 }));
    mkdirSync(join(files, 'runs', 'zero-run'), { recursive: true });
    for (const file of ['eval.json', 'metrics.jsonl', 'heartbeat.json']) symlinkSync('/dev/zero', join(files, 'runs', 'zero-run', file));

    // ways out of the runs directory
    const outside = join(root, 'outside');
    writeSweep(outside, 'SECRET-OUTSIDE-SWEEP', [{ name: 'x' }]);
    symlinkSync(outside, join(sweeps, 'linked-out'));
    mkdirSync(join(outside, 'run'));
    writeFileSync(join(outside, 'run', 'eval.json'), evaluation(4242));
    writeFileSync(join(outside, 'state.json'), JSON.stringify(state('linked-state', { status: 'failed', error: 'SECRET-OUTSIDE-STATE' })));
    const escape = join(sweeps, 'escape');
    writeSweep(escape, 'escape', [{ name: 'outside-run', runDir: join(outside, 'run') }, { name: '../../../outside/x' }, { name: 'linked-state' }, { name: 'fine' }]);
    mkdirSync(join(escape, 'jobs'));
    symlinkSync(join(outside, 'state.json'), join(escape, 'jobs', 'linked-state.json'));
    const statesOut = join(sweeps, 'states-out');
    writeSweep(statesOut, 'states-out', [{ name: 'x' }]);
    symlinkSync(join(outside, 'jobs'), join(statesOut, 'jobs'));
    writeJobState(outside, state('x', { status: 'failed', error: 'SECRET-OUTSIDE-STATES-DIR' }));

    // plain files beside the sweeps are not sweeps (and not an error)
    writeFileSync(join(runs, 'notes.txt'), 'x');
    writeFileSync(join(sweeps, 'notes.txt'), 'x');

    dashboard = await startDashboard({ runsDir: runs, port: 0 });
  });
  after(async () => {
    await browser?.close();
    await dashboard?.close();
  });

  it('answers with FIFOs and links to /dev/zero among the sweep files: each is a problem, not a hang or gigabytes', async () => {
    const { views } = await api(dashboard);
    const byPath = new Map(views.map((view) => [view.path, view]));
    for (const path of ['sweeps/fifo-index', 'sweeps/zero-index']) {
      const view = byPath.get(path);
      assert.equal(view?.status, null, path);
      assert.match(view?.problems.join('; ') ?? '', /jobs\.json: .*not a regular file/, path);
    }
    const files = byPath.get('sweeps/files');
    // a FIFO state counts as queued (a state linked to /dev/zero leads out of the runs directory:
    // the job is not read); a running job whose heartbeat cannot be read stays running
    assert.deepEqual(files?.status?.jobs.map((job) => `${job.name}:${job.status}`), ['fifo-state:queued', 'fifo-run:running', 'zero-run:done']);
    assert.match(files?.problems.join('; ') ?? '', /job zero-state: its state file leads outside the runs directory/);
    assert.deepEqual(files?.status?.jobs.map((job) => job.step), [null, null, null], 'no metrics read from a FIFO or /dev/zero');
    assert.match(files?.problems.join('; ') ?? '', /results: .*eval\.json: not a regular file/);
    assert.ok(process.memoryUsage().rss < 1.5 * 2 ** 30, 'no gigabytes');
  });

  it('reads nothing outside the runs directory: a linked sweep, a run directory, a job name, a state file and a state directory that lead out', async () => {
    const { views, text } = await api(dashboard);
    assert.ok(!views.some((view) => view.path === 'sweeps/linked-out'), views.map((view) => view.path).join(', '));
    assert.doesNotMatch(text, /SECRET-OUTSIDE|4242/);
    const escape = views.find((view) => view.path === 'sweeps/escape');
    assert.deepEqual(escape?.status?.jobs.map((job) => job.name), ['fine']);
    assert.equal(escape?.results, null);
    const problems = escape?.problems.join('\n') ?? '';
    assert.match(problems, /job outside-run: its run directory is outside the runs directory/);
    assert.match(problems, /job "\.\.\/\.\.\/\.\.\/outside\/x": not a plain name/);
    assert.match(problems, /job linked-state: its state file leads outside the runs directory/);
    const statesOut = views.find((view) => view.path === 'sweeps/states-out');
    assert.equal(statesOut?.status, null);
    assert.match(statesOut?.problems.join('; ') ?? '', /jobs\/ leads outside the runs directory/);
  });

  it('serves /sweeps with the page policy as a header, and links it with the main page', async () => {
    const response = await fetch(`${dashboard.url}/sweeps`);
    const policy = response.headers.get('content-security-policy') ?? '';
    assert.equal(policy, headerPolicy(pagePolicy('sweeps')));
    assert.match(policy, /script-src 'sha256-[^;]+'; style-src/);
    assert.doesNotMatch(policy, /unsafe-inline|unsafe-eval/);
    const html = await response.text();
    assert.match(html, /<meta http-equiv="Content-Security-Policy"/);
    assert.match(html, /<a href="\/" id="runs-link">/);
    assert.match(await (await fetch(dashboard.url)).text(), /<a href="\/sweeps" id="sweeps-link">/);
  });

  it('shows every hostile string as text in Chromium and runs none of it', { timeout: 60_000 }, async () => {
    browser = await launchChromium();
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (entry) => {
      if (entry.type() === 'error') errors.push(entry.text());
    });
    // reached from the main page's link, as a user would
    await page.goto(dashboard.url);
    await page.click('#sweeps-link');
    await page.waitForSelector('section.sweep td', { timeout: 20_000 });
    // give anything injected (an image error, an onload) time to fire, and hover the host cell
    await page.waitForTimeout(300);
    await page.hover('tr.failed td:nth-child(4)').catch(() => undefined);
    const seen = await page.evaluate(`(() => {
      const app = document.getElementById('app');
      return {
        pwned: window.__pwned === undefined ? null : String(window.__pwned),
        scripts: document.querySelectorAll('script').length,
        injected: app.querySelectorAll('img, svg, script, b, iframe, object, embed').length,
        handlers: Array.from(app.querySelectorAll('*')).filter((node) => Array.from(node.attributes).some((a) => /^on/i.test(a.name))).length,
        text: app.textContent,
      };
    })()`) as { pwned: string | null; scripts: number; injected: number; handlers: number; text: string };
    assert.equal(seen.pwned, null, 'no injected script ran');
    assert.equal(seen.scripts, 3, 'only the page\'s own script elements (data, uPlot, client)');
    assert.equal(seen.injected, 0, 'no element from the data');
    assert.equal(seen.handlers, 0, 'no event handler from the data');
    for (const shown of [HOSTILE_DIR, HOSTILE_NAME, HOSTILE_JOB, HOSTILE_DATASET, HOSTILE_ALGORITHM, HOSTILE_ERROR, HOSTILE_HOST]) {
      assert.ok(seen.text.includes(shown), `shown as text: ${shown}`);
    }
    assert.match(seen.text, /jobs\.json: .*not a regular file/, 'problems are shown');
    assert.deepEqual(errors, [], 'no page error and no CSP violation');
    await page.close();
  });
});

describe('the sweep listing cache', () => {
  it('computes a sweep once while its files are unchanged, and again after a job state, a log or the index changes; logs are read incrementally', () => {
    const runs = join(tempDir(), 'runs');
    const sweep = join(runs, 'sweeps', 'cached');
    writeSweep(sweep, 'cached', [{ name: 'a' }, { name: 'b' }]);
    mkdirSync(join(sweep, 'runs', 'a'), { recursive: true });
    const sweeps = new SweepsDirectory(runs, { minIntervalMs: 0 });
    for (let poll = 0; poll < 50; poll++) assert.equal(sweeps.list()[0]?.status?.total, 2);
    assert.equal(sweeps.computations, 1);
    writeJobState(sweep, state('b', { status: 'failed', error: 'exit 2' }));
    assert.equal(sweeps.list()[0]?.status?.counts.failed, 1);
    const first = '{"step":7,"time_s":1}\n';
    appendFileSync(join(sweep, 'runs', 'a', 'metrics.jsonl'), first);
    assert.equal(sweeps.list()[0]?.status?.jobs[0]?.step, 7);
    assert.equal(sweeps.metricsBytesRead(), first.length);
    // a log is read incrementally: only what was appended
    const second = '{"step":8,"time_s":2}\n';
    appendFileSync(join(sweep, 'runs', 'a', 'metrics.jsonl'), second);
    assert.equal(sweeps.list()[0]?.status?.jobs[0]?.step, 8);
    assert.equal(sweeps.metricsBytesRead(), first.length + second.length);
    writeSweep(sweep, 'renamed', [{ name: 'a' }]);
    assert.equal(sweeps.list()[0]?.status?.name, 'renamed');
    assert.equal(sweeps.list()[0]?.status?.total, 1);
    assert.equal(sweeps.computations, 5);
  });

  it('serves fifty concurrent clients of /api/sweeps from one computation', { timeout: 30_000 }, async () => {
    const runs = join(tempDir(), 'runs');
    writeSweep(join(runs, 'sweeps', 'polled'), 'polled', [{ name: 'a' }]);
    const dashboard = await startDashboard({ runsDir: runs, port: 0 });
    try {
      const answers = await Promise.all(Array.from({ length: 50 }, () => api(dashboard)));
      assert.ok(answers.every(({ views }) => views[0]?.status?.name === 'polled'));
      assert.equal(dashboard.sweepComputations(), 1);
    } finally {
      await dashboard.close();
    }
  });
});
