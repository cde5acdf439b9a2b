/**
 * The player page's HTML and style sheet, served by `stitch play` and written by `stitch export
 * web`. No inline script or style: the page loads app.js (the esbuild bundle) and app.css from its
 * own origin, so its Content-Security-Policy needs no hashes.
 */
export const PAGE_SCRIPT = 'app.js';
export const PAGE_STYLE = 'app.css';
/** MuJoCo's WebAssembly, which @mujoco/mujoco's loader fetches next to the script */
export const MUJOCO_WASM = 'mujoco.wasm';

/**
 * The page's policy: its own scripts only, WebAssembly compilation (MuJoCo), fetches to itself.
 * 'unsafe-eval' is there because MuJoCo's Emscripten bindings (embind) build their call wrappers
 * with `new Function`; no script from elsewhere and no inline script runs. As a <meta> element it
 * also guards the exported folder on any static host.
 */
export const PAGE_CONTENT_POLICY = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'";

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${PAGE_CONTENT_POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stitch policy player</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${PAGE_STYLE}">
<script type="module" src="${PAGE_SCRIPT}"></script>
</head>
<body data-state="loading">
<header><h1 id="title">Stitch policy player</h1><span id="status">loading</span></header>
<div id="error" role="alert" hidden></div>
<main>
<section class="task"><canvas id="task" width="420" height="420"></canvas><p id="step"></p></section>
<section class="side">
<div class="controls">
<label>target return <input id="target" type="number" step="any"></label>
<button id="reset" type="button">reset</button>
<button id="pause" type="button">pause</button>
<label>speed <select id="speed"><option value="1">1×</option><option value="4">4×</option><option value="16">16×</option><option value="max">max</option></select></label>
</div>
<p id="plot-label"></p>
<canvas id="plot" width="460" height="220"></canvas>
<p id="result" aria-live="polite"></p>
</section>
</main>
</body>
</html>
`;

export const PAGE_CSS = `body { font: 14px system-ui, sans-serif; margin: 16px; color: #222; background: #fafafa; }
header { display: flex; gap: 16px; align-items: baseline; }
h1 { font-size: 18px; margin: 0 0 12px; }
#status { color: #666; }
#error { background: #fde8e8; border: 1px solid #d33; color: #900; padding: 10px; margin: 8px 0; white-space: pre-wrap; }
main { display: flex; gap: 24px; flex-wrap: wrap; }
canvas { background: #fff; border: 1px solid #ddd; }
.controls { display: flex; gap: 10px; flex-wrap: wrap; align-items: center; margin-bottom: 8px; }
#target { width: 90px; }
#result { font-weight: 600; }
`;
