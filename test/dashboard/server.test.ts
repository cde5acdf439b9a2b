import { request as httpRequest } from 'node:http';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDashboard, type Dashboard, type RunListing } from '../../src/dashboard/server.js';
import { tempDir } from '../report/fixture.js';

/** a GET with the path sent exactly as written (fetch would resolve ../ before sending) */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** server-sent events of one response, read in order */
class EventReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private text = '';

  constructor(response: Response) {
    this.reader = (response.body as ReadableStream<Uint8Array>).getReader();
  }

  /** the next event, or null when none comes within the time limit */
  async next(timeoutMs: number): Promise<{ event: string; data: string } | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.text.indexOf('\n\n');
      if (end >= 0) {
        const block = this.text.slice(0, end);
        this.text = this.text.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
        const data = block.split('\n').filter((line) => line.startsWith('data: ')).map((line) => line.slice(6)).join('\n');
        return { event, data };
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) return null;
      let timer: NodeJS.Timeout | undefined;
      const chunk = await Promise.race([this.reader.read(), new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), remaining); })]);
      clearTimeout(timer);
      if (chunk === null || chunk.done) return null;
      this.text += this.decoder.decode(chunk.value, { stream: true });
    }
  }
}

describe('dashboard server', () => {
  let root: string;
  let runs: string;
  let dashboard: Dashboard;
  before(async () => {
    root = tempDir();
    runs = join(root, 'runs');
    mkdirSync(join(runs, 'run-a'), { recursive: true });
    writeFileSync(join(runs, 'run-a', 'config.json'), JSON.stringify({ algo: 'dt', env: 'maze2d-umaze-v1', steps: 100 }));
    writeFileSync(join(runs, 'run-a', 'metrics.jsonl'), '{"step":10,"time_s":1,"action_loss":0.5}\n{"step":2');
    writeFileSync(join(root, 'secret.txt'), 'SECRET-OUTSIDE-RUNS');
    symlinkSync(join(root, 'secret.txt'), join(runs, 'run-a', 'link-out.txt'));
    dashboard = await startDashboard({ runsDir: runs, port: 0, pollMs: 50 });
  });
  after(async () => {
    await dashboard.close();
  });

  it('binds to 127.0.0.1 by default', () => {
    assert.match(dashboard.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('lists runs, half-written ones included', async () => {
    const listing = await (await fetch(`${dashboard.url}/api/runs`)).json() as RunListing[];
    assert.deepEqual(listing, [{ name: 'run-a', status: 'in progress', step: 10, steps: 100, algo: 'dt', env: 'maze2d-umaze-v1' }]);
    const page = await fetch(`${dashboard.url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /id="run-list"/);
  });

  it('serves files inside the runs directory and refuses every way out of it', async () => {
    const inside = await rawGet(dashboard.url, '/files/run-a/config.json');
    assert.equal(inside.status, 200);
    assert.match(inside.body, /"algo":"dt"/);
    for (const path of ['/files/../secret.txt', '/files/run-a/../../secret.txt', '/files/..%2fsecret.txt', '/files/run-a%2f..%2f..%2fsecret.txt',
      '/files/%2e%2e/secret.txt', '/files/%2Fetc%2Fpasswd', '/files/run-a/link-out.txt', '/files/..%5csecret.txt', '/api/runs/..', '/api/runs/..%2f..%2fsecret.txt']) {
      const response = await rawGet(dashboard.url, path);
      assert.ok(response.status >= 400 && response.status < 500, `${path}: status ${response.status}`);
      assert.ok(!response.body.includes('SECRET-OUTSIDE-RUNS'), path);
    }
    assert.equal((await rawGet(dashboard.url, '/files/..%2fsecret.txt')).status, 403, 'an encoded ../ is seen and refused');
    assert.equal((await rawGet(dashboard.url, '/files/run-a/link-out.txt')).status, 403, 'a link out of the runs directory is refused');
  });

  it('bounds requests: read-only methods, no bodies, limited URL length', async () => {
    assert.equal((await fetch(`${dashboard.url}/api/runs`, { method: 'POST', body: 'x' })).status, 405);
    assert.equal((await fetch(`${dashboard.url}/api/runs`, { method: 'DELETE' })).status, 405);
    assert.equal((await fetch(`${dashboard.url}/files/${'a'.repeat(5000)}`)).status, 414);
    const withBody = await new Promise<number>((resolveStatus, reject) => {
      const url = new URL(`${dashboard.url}/api/runs`);
      const request = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'GET', headers: { 'content-length': '1000000' } }, (response) => {
        response.resume();
        resolveStatus(response.statusCode ?? 0);
      });
      request.on('error', reject);
      request.end('x'.repeat(16));
    });
    assert.equal(withBody, 413);
    assert.equal((await fetch(`${dashboard.url}/api/runs`)).status, 200, 'still serving');
  });

  it('streams a run as it changes and survives it being deleted', async () => {
    const controller = new AbortController();
    const response = await fetch(`${dashboard.url}/api/runs/run-a/events`, { signal: controller.signal });
    assert.equal(response.headers.get('content-type'), 'text/event-stream');
    const events = new EventReader(response);
    const first = await events.next(5000);
    assert.equal(first?.event, 'snapshot');
    assert.deepEqual((JSON.parse(first?.data ?? '{}') as { metrics: Array<{ step: number }> }).metrics.map((record) => record.step), [10]);
    writeFileSync(join(runs, 'run-a', 'metrics.jsonl'), '{"step":10,"time_s":1,"action_loss":0.5}\n{"step":20,"time_s":2,"action_loss":0.4}\n');
    const second = await events.next(5000);
    assert.deepEqual((JSON.parse(second?.data ?? '{}') as { metrics: Array<{ step: number }> }).metrics.map((record) => record.step), [10, 20]);
    rmSync(join(runs, 'run-a'), { recursive: true });
    const third = await events.next(5000);
    assert.equal(third?.event, 'gone');
    controller.abort();
    const listing = await (await fetch(`${dashboard.url}/api/runs`)).json() as RunListing[];
    assert.deepEqual(listing, [], 'the server still answers');
    assert.equal((await fetch(`${dashboard.url}/api/runs/run-a`)).status, 404);
  });
});
