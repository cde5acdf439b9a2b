/**
 * The player page's files in Node: the esbuild bundle built with the package (dist/play/app.js,
 * scripts/build-play.mjs), MuJoCo's WebAssembly from @mujoco/mujoco, and the HTML and CSS.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { MUJOCO_WASM, PAGE_CSS, PAGE_HTML, PAGE_SCRIPT, PAGE_STYLE } from './page-html.js';

export class PlayerAssetsMissing extends Error {}

/** dist/play/app.js, next to dist/src/ where this file is compiled */
const BUNDLE_PATH = fileURLToPath(new URL('../../play/app.js', import.meta.url));

export interface PageAsset {
  name: string;
  contentType: string;
  bytes: Uint8Array;
}

function mujocoWasmPath(): string {
  return createRequire(import.meta.url).resolve('@mujoco/mujoco/mujoco.wasm');
}

/** every file of the page except the policy and its settings */
export function pageAssets(): PageAsset[] {
  if (!existsSync(BUNDLE_PATH)) throw new PlayerAssetsMissing(`the player page is not built (${BUNDLE_PATH} is missing): run npm run build`);
  const text = (value: string): Uint8Array => new TextEncoder().encode(value);
  return [
    { name: 'index.html', contentType: 'text/html; charset=utf-8', bytes: text(PAGE_HTML) },
    { name: PAGE_STYLE, contentType: 'text/css; charset=utf-8', bytes: text(PAGE_CSS) },
    { name: PAGE_SCRIPT, contentType: 'text/javascript; charset=utf-8', bytes: readFileSync(BUNDLE_PATH) },
    { name: MUJOCO_WASM, contentType: 'application/wasm', bytes: readFileSync(mujocoWasmPath()) },
  ];
}
