/**
 * `stitch export web`: the player page as static files any web server serves: index.html, the
 * script bundle, the style sheet, MuJoCo's WebAssembly, the policy file and the player settings,
 * plus a `_headers` file with the cross-origin isolation headers for hosts that read one (Netlify,
 * Cloudflare Pages). The page runs MuJoCo's single-threaded build, so it works without them too
 * (python3 -m http.server, npx http-server).
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pageAssets } from '../play/assets.js';
import { PLAY_SETTINGS_FILE, POLICY_URL, type PlaySettings } from '../play/settings.js';
import { writeFileAtomic } from '../util/atomic-file.js';

export class WebExportError extends Error {}

const HEADERS_FILE = `/*
  Cross-Origin-Opener-Policy: same-origin
  Cross-Origin-Embedder-Policy: require-corp
  X-Content-Type-Options: nosniff
`;

/** Writes the page into outDir (created; refused when it exists and is not empty). Returns the files written. */
export function writeWebExport(policyBytes: Uint8Array, settings: PlaySettings, outDir: string): string[] {
  if (existsSync(outDir)) {
    if (!statSync(outDir).isDirectory()) throw new WebExportError(`--out ${outDir}: exists and is not a directory`);
    if (readdirSync(outDir).length > 0) throw new WebExportError(`--out ${outDir}: not empty (choose a new folder; nothing was written)`);
  }
  const assets = pageAssets();
  mkdirSync(outDir, { recursive: true });
  const files: Array<[string, Uint8Array | string]> = [
    ...assets.map((asset): [string, Uint8Array] => [asset.name, asset.bytes]),
    [POLICY_URL, policyBytes],
    [PLAY_SETTINGS_FILE, `${JSON.stringify(settings)}\n`],
    ['_headers', HEADERS_FILE],
  ];
  for (const [name, data] of files) writeFileAtomic(join(outDir, name), data);
  return files.map(([name]) => name);
}
