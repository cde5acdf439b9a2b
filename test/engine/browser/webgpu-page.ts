/**
 * The headless Chromium page that the browser WebGPU and wasm tests run their bundle in
 * (webgpu-browser.test.ts, webgpu-browser-training.test.ts, wasm-browser-training.test.ts).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';

const CHROMIUM_PATH = '/usr/bin/chromium';
/** test/report/fixture.ts's flags without --disable-gpu, plus Chromium's WebGPU on SwiftShader */
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--no-first-run', '--disable-background-networking',
  '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--use-webgpu-adapter=swiftshader',
];

/** the page once the suite has started, or why Chromium gave none */
export interface WebGpuPage {
  page: Page | undefined;
  launchFailure: string;
}

/**
 * Call inside a describe: before its first test, bundles `entry` (a compiled module) with esbuild
 * so that its exports are on globalThis[globalName], serves it from localhost and opens it in
 * headless Chromium (`files`: more paths the server answers, such as a wasm module); after its
 * last, closes both. A Chromium that does not start leaves `page`
 * undefined and says why in `launchFailure`, for the tests to skip or fail with.
 */
export function webGpuPageDuringSuite(entry: URL, globalName: string, files: Record<string, Uint8Array> = {}): WebGpuPage {
  const state: WebGpuPage = { page: undefined, launchFailure: '' };
  let browser: Browser | undefined;
  let server: Server | undefined;
  before(async () => {
    // platform 'browser' honors package.json's `browser` field (the native addon's loader is swapped out)
    const bundle = await build({ entryPoints: [fileURLToPath(entry)], bundle: true, format: 'iife', globalName, write: false, platform: 'browser', logLevel: 'warning' });
    const script = bundle.outputFiles[0]!.text;
    // navigator.gpu exists only in a secure context: serve the page from localhost
    server = createServer((request, response) => {
      const file = files[request.url ?? ''];
      if (request.url === '/bundle.js') response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      else if (file !== undefined) response.writeHead(200, { 'content-type': 'application/wasm' }).end(file);
      else response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script src="/bundle.js"></script>');
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_FLAGS });
      state.page = await browser.newPage();
      await state.page.goto(`http://localhost:${(server.address() as AddressInfo).port}/`);
    } catch (error) {
      state.launchFailure = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    }
  });
  after(async () => {
    await browser?.close();
    server?.close();
  });
  return state;
}
