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
 * headless Chromium (see PageOptions for modules, worker scripts and cross-origin isolation);
 * after its last, closes both. A Chromium that does not start leaves `page`
 * undefined and says why in `launchFailure`, for the tests to skip or fail with.
 */
export interface PageOptions {
  /** more paths the server answers with these bytes (a wasm module) */
  files?: Record<string, Uint8Array>;
  /** more scripts bundled like `entry` and served at these paths (workers) */
  bundles?: Record<string, URL>;
  /** serve with COOP/COEP headers, so the page is cross-origin isolated (SharedArrayBuffer) */
  isolated?: boolean;
}

async function bundleScript(entry: URL, globalName?: string): Promise<string> {
  // platform 'browser' honors package.json's `browser` field (the native addon's loader is swapped out)
  const bundle = await build({
    entryPoints: [fileURLToPath(entry)], bundle: true, format: 'iife', write: false, platform: 'browser', logLevel: 'warning',
    ...(globalName === undefined ? {} : { globalName }),
  });
  return bundle.outputFiles[0]!.text;
}

export function webGpuPageDuringSuite(entry: URL, globalName: string, options: PageOptions = {}): WebGpuPage {
  const state: WebGpuPage = { page: undefined, launchFailure: '' };
  let browser: Browser | undefined;
  let server: Server | undefined;
  before(async () => {
    const script = await bundleScript(entry, globalName);
    const workers: Record<string, string> = {};
    for (const [path, url] of Object.entries(options.bundles ?? {})) workers[path] = await bundleScript(url);
    const files = options.files ?? {};
    const headers = options.isolated === true ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {};
    // navigator.gpu exists only in a secure context: serve the page from localhost
    server = createServer((request, response) => {
      const url = request.url ?? '';
      const file = files[url];
      const worker = workers[url];
      if (url === '/bundle.js') response.writeHead(200, { ...headers, 'content-type': 'text/javascript' }).end(script);
      else if (worker !== undefined) response.writeHead(200, { ...headers, 'content-type': 'text/javascript' }).end(worker);
      else if (file !== undefined) response.writeHead(200, { ...headers, 'content-type': 'application/wasm' }).end(file);
      else response.writeHead(200, { ...headers, 'content-type': 'text/html' }).end('<!doctype html><script src="/bundle.js"></script>');
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
