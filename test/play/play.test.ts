/**
 * The policy in a page, in headless Chromium: `stitch play` and a `stitch export web` folder load,
 * run a full Maze2D episode with a small trained policy, and report the return `stitch eval` gives
 * on the same seed and backend (the page runs the TypeScript kernels, so eval runs with
 * STITCH_BACKEND=js); a truncated or corrupt policy file shows a clear message, not a blank page.
 * Also: the server's headers (COOP/COEP, CSP, loopback Host only) and `stitch export onnx` on a run.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, smallMazeDataset, stitch, tempDir } from '../report/fixture.js';

const ENV = 'maze2d-umaze-dense-v1';
const SEED = 3;
/** an episode of umaze is 300 steps; the page runs them at full speed */
const EPISODE_TIMEOUT_MS = 120_000;

let dir = '';
let runDir = '';
let reinformerRunDir = '';
let hopperRunDir = '';
let browser: Browser;
const children: ChildProcess[] = [];
const servers: Server[] = [];

before(async () => {
  dir = tempDir();
  const dataset = await smallMazeDataset(dir, 3000);
  runDir = join(dir, 'run');
  // dense rewards: every step adds exp(-distance), so equal returns mean equal trajectories
  const trained = stitch('train', '--algo', 'dt', '--dataset', dataset, '--env', ENV, '--steps', '20', '--seed', '0', '--eval-every', '0',
    '--eval-episodes', '1', '--log-every', '10', '--set', 'width=16', '--set', 'layers=1', '--set', 'heads=1', '--set', 'mlpWidth=32',
    '--set', 'context=4', '--set', 'batchSize=8', '--set', 'warmupSteps=5', '--set', 'targetReturns=[60,20]', '--out', runDir);
  assert.equal(trained.status, 0, trained.stderr);
  reinformerRunDir = join(dir, 'reinformer-run');
  const reinformer = stitch('train', '--algo', 'reinformer', '--dataset', dataset, '--env', ENV, '--steps', '20', '--seed', '0', '--eval-every', '0',
    '--eval-episodes', '1', '--log-every', '10', '--set', 'width=16', '--set', 'layers=1', '--set', 'heads=1', '--set', 'context=4',
    '--set', 'batchSize=8', '--set', 'warmupSteps=5', '--out', reinformerRunDir);
  assert.equal(reinformer.status, 0, reinformer.stderr);
  const hopperData = join(dir, 'hopper.hdf5');
  const made = stitch('data', 'make', 'hopper-random', '--out', hopperData, '--steps', '2000');
  assert.equal(made.status, 0, made.stderr);
  hopperRunDir = join(dir, 'hopper-run');
  const hopper = stitch('train', '--algo', 'dt', '--dataset', hopperData, '--env', 'hopper-v4', '--steps', '10', '--seed', '0', '--eval-every', '0',
    '--eval-episodes', '1', '--log-every', '5', '--set', 'width=16', '--set', 'layers=1', '--set', 'heads=1', '--set', 'mlpWidth=32',
    '--set', 'context=4', '--set', 'batchSize=8', '--set', 'warmupSteps=5', '--out', hopperRunDir);
  assert.equal(hopper.status, 0, hopper.stderr);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  for (const child of children) child.kill();
  await Promise.all(servers.map((server) => new Promise<void>((done) => { server.closeAllConnections(); server.close(() => done()); })));
  rmSync(dir, { recursive: true, force: true });
});

/**
 * The page's return against `stitch eval`'s. The same trajectory, but not always the same last bit:
 * Math.exp, Math.log, Math.sin, Math.pow... are the JS engine's own, and Chromium 156's V8 rounds
 * some of them differently from Node 20's (measured: Math.exp differs in 1910 of 20,000 random
 * arguments, Math.tanh in 8), so the dense rewards exp(−distance) can differ in the last place.
 * A trajectory that diverged would differ by far more than this relative 1e-9 over 300 steps.
 */
function assertSameEpisodeReturn(actual: number, expected: number, message = 'the page plays stitch eval\'s episode'): void {
  assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.abs(expected), `${message}: ${actual} against ${expected}`);
}

/** `stitch eval RUN --episodes 1 --seed SEED` on the js backend: the return and length of its one episode */
function evalEpisode(run = runDir): { return: number; length: number } {
  const result = spawnSync(process.execPath, ['dist/src/cli/main.js', 'eval', run, '--episodes', '1', '--seed', String(SEED), '--json'],
    { encoding: 'utf8', env: { ...process.env, CI: '1', STITCH_BACKEND: 'js' } });
  assert.equal(result.status, 0, result.stderr);
  const record = JSON.parse(result.stdout) as { conditions: Array<{ returns: number[]; lengths: number[] }> };
  const headline = record.conditions[0];
  assert.ok(headline !== undefined);
  return { return: headline.returns[0] as number, length: headline.lengths[0] as number };
}

/** starts `stitch play` and resolves with the address it prints */
function startPlay(run: string): Promise<string> {
  const child = spawn(process.execPath, ['dist/src/cli/main.js', 'play', run, '--port', '0', '--seed', String(SEED)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: '1' } });
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += String(chunk);
      const match = /play: (http:\/\/\S+)/.exec(output);
      if (match !== null) resolve(match[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`stitch play exited (${code}): ${output}`)));
  });
}

const CONTENT_TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json' };

/** a plain static file server (no special headers), as any static host */
function serveFolder(folder: string): Promise<string> {
  const server = createServer((req, res) => {
    const name = (req.url ?? '/').split('?')[0]?.slice(1) || 'index.html';
    if (name.includes('/') || name.includes('..')) { res.writeHead(404).end(); return; }
    try {
      const bytes = readFileSync(join(folder, name));
      res.writeHead(200, { 'Content-Type': CONTENT_TYPES[extname(name)] ?? 'application/octet-stream' }).end(bytes);
    } catch {
      res.writeHead(404).end();
    }
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)));
}

/** the page's state, result and error box (a string expression: this file is compiled without the DOM library) */
const READ_OUTCOME = `(() => {
  const result = document.getElementById('result');
  return {
    state: document.body.dataset.state ?? '',
    episodeReturn: Number(result.dataset.return),
    length: Number(result.dataset.length),
    error: document.getElementById('error')?.textContent ?? '',
    isolated: crossOriginIsolated,
    inkedPixels: (() => {
      const pixels = document.getElementById('task').getContext('2d').getImageData(0, 0, 420, 420).data;
      let colored = 0;
      for (let i = 0; i < pixels.length; i += 4) if (pixels[i] > 150 && pixels[i + 1] < 120) colored += 1;
      return colored;
    })(),
  };
})()`;
const EPISODE_OVER = "document.body.dataset.state === 'finished' || document.body.dataset.state === 'error'";

interface PageOutcome { state: string; episodeReturn: number; length: number; error: string; isolated: boolean; inkedPixels: number }

async function runEpisode(page: Page, url: string): Promise<PageOutcome> {
  await page.goto(`${url}?speed=max`);
  await page.waitForFunction(EPISODE_OVER, null, { timeout: EPISODE_TIMEOUT_MS });
  return page.evaluate(READ_OUTCOME) as Promise<PageOutcome>;
}

function exportWeb(name: string, run = runDir): string {
  const out = join(dir, name);
  const result = stitch('export', 'web', run, '--out', out, '--seed', String(SEED));
  assert.equal(result.status, 0, result.stderr);
  return out;
}

describe('the policy in a page (headless Chromium)', () => {
  it('stitch play: a full Maze2D episode in the page returns what stitch eval returns on the same seed', async () => {
    const expected = evalEpisode();
    const url = await startPlay(runDir);
    const page = await browser.newPage();
    const response = await page.goto(url);
    const headers = response?.headers() ?? {};
    assert.equal(headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(headers['cross-origin-embedder-policy'], 'require-corp');
    assert.match(headers['content-security-policy'] ?? '', /default-src 'none'; script-src 'self'/);
    const outcome = await runEpisode(page, url);
    assert.equal(outcome.error, '');
    assert.equal(outcome.state, 'finished');
    assert.equal(outcome.isolated, true, 'COOP/COEP make the page cross-origin isolated');
    assert.equal(outcome.length, expected.length);
    assertSameEpisodeReturn(outcome.episodeReturn, expected.return);
    assert.ok(expected.return > 0, 'dense rewards: a non-trivial return');
    assert.ok(outcome.inkedPixels > 0, 'the ball and its trail are drawn');
    // reset runs the same episode again, in the same engine: to the last bit
    await page.click('#reset');
    await page.waitForFunction("document.body.dataset.state === 'finished'", null, { timeout: EPISODE_TIMEOUT_MS });
    assert.equal(((await page.evaluate(READ_OUTCOME)) as PageOutcome).episodeReturn, outcome.episodeReturn);
    await page.close();
  });

  it('Reinformer: the page plays stitch eval\'s episode, plotting its own predicted return (no target box)', async () => {
    const expected = evalEpisode(reinformerRunDir);
    const page = await browser.newPage();
    const outcome = await runEpisode(page, await startPlay(reinformerRunDir));
    assert.equal(outcome.error, '');
    assertSameEpisodeReturn(outcome.episodeReturn, expected.return);
    assert.equal(await page.$eval('#target', (input) => (input as unknown as { disabled: boolean }).disabled), true);
    assert.match(await page.$eval('#plot-label', (label) => label.textContent ?? ''), /Reinformer's predicted return \(-?\d/);
    await page.close();
  });

  it('stitch play answers only loopback Host names and only reads', async () => {
    const url = new URL(await startPlay(runDir));
    const status = (method: string, host: string): Promise<number> => new Promise((resolve, reject) => {
      const req = request({ hostname: '127.0.0.1', port: url.port, path: '/policy.safetensors', method, headers: { Host: host } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.once('error', reject);
      req.end();
    });
    assert.equal(await status('GET', `127.0.0.1:${url.port}`), 200);
    assert.equal(await status('GET', `evil.example:${url.port}`), 403);
    assert.equal(await status('POST', `127.0.0.1:${url.port}`), 405);
  });

  it('stitch export web: the static folder, served by a plain file server, plays the same episode', async () => {
    const out = exportWeb('web');
    const outcome = await runEpisode(await browser.newPage(), await serveFolder(out));
    assert.equal(outcome.error, '');
    assertSameEpisodeReturn(outcome.episodeReturn, evalEpisode().return);
  });

  it('locomotion: a Hopper episode in the exported page returns what stitch eval returns, the body drawn', async () => {
    const outcome = await runEpisode(await browser.newPage(), await serveFolder(exportWeb('web-hopper', hopperRunDir)));
    assert.equal(outcome.error, '');
    const expected = evalEpisode(hopperRunDir);
    assert.equal(outcome.length, expected.length);
    assertSameEpisodeReturn(outcome.episodeReturn, expected.return);
    assert.ok(outcome.inkedPixels > 0, 'the legs are drawn');
  });

  it('a truncated or corrupt policy file shows a clear message, not a blank page', async () => {
    const out = exportWeb('web-broken');
    const url = await serveFolder(out);
    const policyPath = join(out, 'policy.safetensors');
    const original = readFileSync(policyPath);
    writeFileSync(policyPath, original.subarray(0, 200));
    const truncated = await runEpisode(await browser.newPage(), url);
    assert.equal(truncated.state, 'error');
    assert.match(truncated.error, /policy\.safetensors: .*(truncated|too short)/);
    const corrupt = Buffer.from(original);
    corrupt.fill(0x7b, 8, 40);
    writeFileSync(policyPath, corrupt);
    const garbled = await runEpisode(await browser.newPage(), url);
    assert.equal(garbled.state, 'error');
    assert.match(garbled.error, /policy\.safetensors: header is not valid JSON/);
  });

  it('stitch play and stitch export refuse a broken policy or a missing run in one line (exit 2)', () => {
    const broken = join(dir, 'broken-run');
    const copy = spawnSync('cp', ['-r', runDir, broken]);
    assert.equal(copy.status, 0);
    writeFileSync(join(broken, 'policy.safetensors'), readFileSync(join(runDir, 'policy.safetensors')).subarray(0, 100));
    for (const args of [['play', broken, '--port', '0'], ['export', 'web', broken, '--out', join(dir, 'never')], ['export', 'onnx', broken, '--out', join(dir, 'never.onnx')], ['export', 'onnx', join(dir, 'missing'), '--out', join(dir, 'never.onnx')]]) {
      const result = stitch(...args);
      assert.equal(result.status, 2, args.join(' '));
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    }
    const notEmpty = stitch('export', 'web', runDir, '--out', runDir);
    assert.equal(notEmpty.status, 2);
    assert.match(notEmpty.stderr, /not empty/);
  });

  it('stitch export onnx writes a graph onnxruntime runs on the trained run', async () => {
    const out = join(dir, 'policy.onnx');
    const result = stitch('export', 'onnx', runDir, '--out', out);
    assert.equal(result.status, 0, result.stderr);
    const session = await ort.InferenceSession.create(readFileSync(out));
    assert.deepEqual([...session.inputNames], ['observations', 'actions', 'returns_to_go', 'timesteps', 'attention_mask']);
    const K = 4;
    const outputs = await session.run({
      observations: new ort.Tensor('float32', new Float32Array(K * 4), [1, K, 4]),
      actions: new ort.Tensor('float32', new Float32Array(K * 2), [1, K, 2]),
      returns_to_go: new ort.Tensor('float32', new Float32Array(K).fill(60), [1, K, 1]),
      timesteps: new ort.Tensor('int64', BigInt64Array.from([0n, 1n, 2n, 3n]), [1, K]),
      attention_mask: new ort.Tensor('float32', new Float32Array(K).fill(1), [1, K]),
    });
    assert.deepEqual(outputs.predicted_actions?.dims, [1, K, 2]);
    await session.release();
  });
});
