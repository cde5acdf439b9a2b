/**
 * The dashboard against a hostile user (issue 15, items 2-4): DNS rebinding, a server bound to
 * every interface, run directories that are links out of --runs, FIFOs, links to /dev/zero,
 * oversized files and many clients on a long log. Every case here once failed.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDashboard, type Dashboard, type RunListing } from '../../src/dashboard/server.js';
import type { RunSnapshot } from '../../src/report/run-data.js';
import { hostNameOf, isLoopbackName } from '../../src/util/local-server.js';
import { tempDir } from '../report/fixture.js';

interface RawResponse { status: number; body: string; headers: Record<string, string | string[] | undefined> }

/** a GET with exactly these headers (fetch would not let a test set Host) */
function rawGet(base: string, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** reads an event stream until its first snapshot event and returns it, then closes it */
async function firstSnapshot(url: string): Promise<RunSnapshot> {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error('the stream ended before a snapshot');
    text += decoder.decode(value, { stream: true });
    const match = /event: snapshot\ndata: (.*)\n\n/.exec(text);
    if (match !== null) {
      controller.abort();
      return JSON.parse(match[1] as string) as RunSnapshot;
    }
  }
}

const config = (steps: number): string => JSON.stringify({ algo: 'dt', env: 'maze2d-umaze-v1', steps });

describe('host names the loopback guard accepts', () => {
  it('accepts loopback names and addresses only', () => {
    for (const name of ['localhost', 'LOCALHOST', 'app.localhost', '127.0.0.1', '127.1.2.3', '[::1]', '::1']) assert.ok(isLoopbackName(name), name);
    for (const name of ['evil.example.com', '127.0.0.1.evil.com', 'localhost.evil.com', '0.0.0.0', '::', '10.0.0.1', '127.0.0.256', '']) assert.ok(!isLoopbackName(name), name);
    assert.equal(hostNameOf('localhost:8321'), 'localhost');
    assert.equal(hostNameOf('[::1]:8321'), '[::1]');
    assert.equal(hostNameOf('evil.example.com'), 'evil.example.com');
    assert.equal(hostNameOf('a b'), null);
  });
});

describe('the dashboard on loopback against hostile requests and run directories', () => {
  let root: string;
  let runs: string;
  let dashboard: Dashboard;
  const bigSteps = 40_000;
  before(async () => {
    root = tempDir();
    runs = join(root, 'runs');
    mkdirSync(join(runs, 'plain'), { recursive: true });
    writeFileSync(join(runs, 'plain', 'config.json'), config(100));
    // a run directory that is a link to a directory outside --runs
    mkdirSync(join(root, 'outside'));
    writeFileSync(join(root, 'outside', 'config.json'), JSON.stringify({ algo: 'SECRET-OUTSIDE-RUNS', steps: 1 }));
    symlinkSync(join(root, 'outside'), join(runs, 'linked-out'));
    // a link to a run inside --runs stays allowed
    symlinkSync(join(runs, 'plain'), join(runs, 'linked-in'));
    // a FIFO as metrics.jsonl froze the whole server
    mkdirSync(join(runs, 'fifo'));
    writeFileSync(join(runs, 'fifo', 'config.json'), config(100));
    execFileSync('mkfifo', [join(runs, 'fifo', 'metrics.jsonl')]);
    // links to /dev/zero grew the server to gigabytes
    mkdirSync(join(runs, 'zero'));
    writeFileSync(join(runs, 'zero', 'config.json'), config(100));
    symlinkSync('/dev/zero', join(runs, 'zero', 'metrics.jsonl'));
    symlinkSync('/dev/zero', join(runs, 'zero', 'eval.json'));
    mkdirSync(join(runs, 'zero-config'));
    symlinkSync('/dev/zero', join(runs, 'zero-config', 'config.json'));
    // a config.json over its cap, and a log line over the line cap
    mkdirSync(join(runs, 'oversized'));
    writeFileSync(join(runs, 'oversized', 'config.json'), `{"pad":"${'x'.repeat(2 << 20)}"}`);
    writeFileSync(join(runs, 'oversized', 'metrics.jsonl'), `{"step":1,"loss":1}\n{"step":2,"pad":"${'x'.repeat(2 << 20)}"}\n{"step":3,"loss":1}\n`);
    // a long log: every call used to parse every run's whole metrics file
    mkdirSync(join(runs, 'big'));
    writeFileSync(join(runs, 'big', 'config.json'), config(bigSteps));
    const lines: string[] = [];
    for (let step = 1; step <= bigSteps; step++) lines.push(`{"step":${step},"time_s":${step / 100},"action_loss":${1 / step},"lr":0.0001}`);
    writeFileSync(join(runs, 'big', 'metrics.jsonl'), `${lines.join('\n')}\n`);
    dashboard = await startDashboard({ runsDir: runs, port: 0, pollMs: 50 });
  });
  after(async () => {
    await dashboard.close();
  });

  it('answers only to loopback Host names: a DNS-rebinding page reads nothing', async () => {
    const port = new URL(dashboard.url).port;
    for (const host of ['evil.example.com', `evil.example.com:${port}`, `127.0.0.1.nip.io:${port}`]) {
      const response = await rawGet(dashboard.url, '/files/plain/config.json', { host });
      assert.equal(response.status, 403, `Host: ${host}`);
      assert.doesNotMatch(response.body, /maze2d/);
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      assert.equal((await rawGet(dashboard.url, '/files/plain/config.json', { host })).status, 200, `Host: ${host}`);
    }
    assert.equal(dashboard.token, null, 'no token on loopback');
    assert.deepEqual(dashboard.warnings, []);
  });

  it('sends a Content-Security-Policy with every response; pages allow only their own hashed scripts', async () => {
    const page = await rawGet(dashboard.url, '/');
    const policy = String(page.headers['content-security-policy']);
    assert.match(policy, /default-src 'none'/);
    assert.match(policy, /script-src 'sha256-[^']+' 'sha256-[^']+'(;|$)/);
    assert.doesNotMatch(policy, /unsafe-inline|unsafe-eval/);
    assert.match(policy, /frame-ancestors 'none'/);
    assert.match(page.body, /<meta http-equiv="Content-Security-Policy"/);
    for (const path of ['/api/runs', '/api/runs/plain', '/files/plain/config.json', '/favicon.ico', '/nothing-here']) {
      const response = await rawGet(dashboard.url, path);
      assert.match(String(response.headers['content-security-policy']), /default-src 'none'/, path);
      assert.equal(response.headers['x-content-type-options'], 'nosniff', path);
    }
    assert.match(String((await rawGet(dashboard.url, '/files/plain/config.json')).headers['content-security-policy']), /sandbox/, 'files run in a sandbox');
    assert.equal((await rawGet(dashboard.url, '/favicon.ico')).status, 204, 'no 404 on page load');
  });

  it('refuses a run directory that is a link out of --runs, in the listing, the snapshot, the stream and the files', async () => {
    const listing = await (await fetch(`${dashboard.url}/api/runs`)).json() as RunListing[];
    const names = listing.map((run) => run.name);
    assert.ok(!names.includes('linked-out'), names.join(', '));
    assert.ok(names.includes('linked-in'), 'a link inside --runs is a run');
    for (const path of ['/api/runs/linked-out', '/api/runs/linked-out/events', '/files/linked-out/config.json']) {
      const response = await rawGet(dashboard.url, path);
      assert.ok(response.status === 403 || response.status === 404, `${path}: ${response.status}`);
      assert.doesNotMatch(response.body, /SECRET-OUTSIDE-RUNS/, path);
    }
  });

  it('reads only regular files: a FIFO or a link to /dev/zero is a problem, not a hang or gigabytes', async () => {
    const listing = await (await fetch(`${dashboard.url}/api/runs`)).json() as RunListing[];
    assert.ok(listing.some((run) => run.name === 'fifo'));
    const fifo = await (await fetch(`${dashboard.url}/api/runs/fifo`)).json() as RunSnapshot;
    assert.ok(fifo.problems.some((problem) => /metrics\.jsonl: not a regular file/.test(problem)), fifo.problems.join('; '));
    assert.equal((await rawGet(dashboard.url, '/files/fifo/metrics.jsonl')).status, 404);
    const zero = await (await fetch(`${dashboard.url}/api/runs/zero`)).json() as RunSnapshot;
    assert.deepEqual(zero.metrics, []);
    assert.ok(zero.problems.some((problem) => /metrics\.jsonl: not a regular file/.test(problem)), zero.problems.join('; '));
    assert.ok(zero.problems.some((problem) => /eval\.json: not a regular file/.test(problem)), zero.problems.join('; '));
    const zeroConfig = await (await fetch(`${dashboard.url}/api/runs/zero-config`)).json() as RunSnapshot;
    assert.equal(zeroConfig.status, 'not a run');
    assert.equal((await rawGet(dashboard.url, '/files/zero/eval.json')).status, 403, 'a link to /dev/zero leads out of --runs');
    const stream = await firstSnapshot(`${dashboard.url}/api/runs/fifo/events`);
    assert.equal(stream.name, 'fifo', 'the event stream of a FIFO run answers');
    assert.ok(process.memoryUsage().rss < 1.5 * 2 ** 30, 'no gigabytes');
  });

  it('caps files and log lines: an oversized config.json and a 2 MiB log line are reported and skipped', async () => {
    const oversized = await (await fetch(`${dashboard.url}/api/runs/oversized`)).json() as RunSnapshot;
    assert.equal(oversized.config, null);
    assert.ok(oversized.problems.some((problem) => /config\.json: \d+ bytes, more than/.test(problem)), oversized.problems.join('; '));
    assert.deepEqual(oversized.metrics.map((record) => record.step), [1, 3]);
    assert.ok(oversized.problems.some((problem) => /metrics\.jsonl: 1 unreadable line/.test(problem)), oversized.problems.join('; '));
  });

  it('parses a long log once however many clients watch it; snapshots are thinned, the last record kept', { timeout: 60_000 }, async () => {
    const logBytes = statSync(join(runs, 'big', 'metrics.jsonl')).size;
    const before = dashboard.logBytesRead();
    const clients = await Promise.all(Array.from({ length: 50 }, () => firstSnapshot(`${dashboard.url}/api/runs/big/events`)));
    for (let call = 0; call < 5; call++) {
      const listing = await (await fetch(`${dashboard.url}/api/runs`)).json() as RunListing[];
      assert.equal(listing.find((run) => run.name === 'big')?.step, bigSteps);
    }
    assert.ok(dashboard.logBytesRead() - before <= logBytes, `read ${dashboard.logBytesRead() - before} bytes for a ${logBytes}-byte log`);
    for (const snapshot of clients) {
      assert.equal(snapshot.metricsTotal, bigSteps);
      assert.ok(snapshot.metrics.length <= 10_001 && snapshot.metrics.length >= 5_000, String(snapshot.metrics.length));
      assert.equal(snapshot.metrics[snapshot.metrics.length - 1]?.step, bigSteps);
    }
    // an append is read incrementally: only the new bytes
    const appended = `{"step":${bigSteps + 1},"time_s":1,"action_loss":0.1,"lr":0.0001}\n`;
    appendFileSync(join(runs, 'big', 'metrics.jsonl'), appended);
    const afterAppend = dashboard.logBytesRead();
    const listing = await (await fetch(`${dashboard.url}/api/runs`)).json() as RunListing[];
    assert.equal(listing.find((run) => run.name === 'big')?.step, bigSteps + 1);
    assert.equal(dashboard.logBytesRead() - afterAppend, appended.length);
  });
});

describe('the dashboard on a non-loopback address', () => {
  it('requires the printed token on every request and warns', async () => {
    const runs = tempDir();
    mkdirSync(join(runs, 'plain'));
    writeFileSync(join(runs, 'plain', 'config.json'), config(100));
    const dashboard = await startDashboard({ runsDir: runs, host: '0.0.0.0', port: 0 });
    try {
      assert.ok(dashboard.token !== null && dashboard.token.length >= 32);
      assert.equal(dashboard.warnings.length, 1);
      assert.match(dashboard.warnings[0] as string, /reachable from other machines/);
      assert.match(dashboard.url, /\?token=/);
      const base = `http://127.0.0.1:${new URL(dashboard.origin).port}`;
      for (const path of ['/', '/api/runs', '/api/runs/plain', '/api/runs/plain/events', '/files/plain/config.json', '/?token=wrong']) {
        assert.equal((await rawGet(base, path)).status, 401, path);
      }
      const first = await rawGet(base, `/?token=${dashboard.token}`, { host: 'my-machine.example:1' });
      assert.equal(first.status, 200);
      const cookie = String(first.headers['set-cookie']).split(';')[0] as string;
      assert.match(cookie, /^stitch-token=/);
      assert.match(String(first.headers['set-cookie']), /HttpOnly; SameSite=Strict/);
      assert.equal((await rawGet(base, '/api/runs', { cookie })).status, 200, 'the page\'s own requests carry the cookie');
      assert.equal((await rawGet(base, '/files/plain/config.json', { authorization: `Bearer ${dashboard.token}` })).status, 200);
    } finally {
      await dashboard.close();
    }
  });

  it('stitch dashboard --host 0.0.0.0 prints a warning and the address with the token', { timeout: 30_000 }, async () => {
    const runs = tempDir();
    const child = spawn(process.execPath, ['dist/src/cli/main.js', 'dashboard', '--runs', runs, '--host', '0.0.0.0', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', () => { if (stdout.includes('\n')) resolve(); });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
      });
      assert.match(stdout, /^dashboard: http:\/\/0\.0\.0\.0:\d+\/\?token=[A-Za-z0-9_-]{32}/);
      assert.match(stderr, /^warning: --host 0\.0\.0\.0 is reachable from other machines/);
    } finally {
      child.kill();
    }
  });
});
