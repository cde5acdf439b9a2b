/**
 * `stitch export onnx RUN_DIR --out policy.onnx` and `stitch export web RUN_DIR --out DIR`: a
 * trained run's policy for other runtimes (an ONNX graph) and as a static page any web server serves.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { exportOnnx, OnnxExportError } from '../export/onnx.js';
import { WebExportError, writeWebExport } from '../export/web.js';
import { PlayerAssetsMissing } from '../play/assets.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { UserError } from './errors.js';
import { BEST_FLAG_HELP, checkedPolicyPath, playSettings, restoreRunPolicy } from './run-policy.js';

function packageVersion(): string {
  const text = readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
  const parsed: unknown = JSON.parse(text);
  return typeof parsed === 'object' && parsed !== null && 'version' in parsed && typeof parsed.version === 'string' ? parsed.version : 'unknown';
}

export function registerExportCommands(program: Command): void {
  const exportCommand = program.command('export').description("export a trained run's policy: an ONNX graph, or a static web page that plays it");

  exportCommand
    .command('onnx')
    .description('write the policy network as one ONNX graph (one forward pass over the context window; inputs in raw units; see docs/deploy.md)')
    .argument('<run>', 'a run directory holding policy.safetensors')
    .requiredOption('--out <file>', 'the .onnx file to write')
    .option('--best', BEST_FLAG_HELP)
    .action((runDir: string, options: { out: string; best?: boolean }) => {
      const restored = restoreRunPolicy(runDir, options.best === true ? 'best' : 'last');
      let bytes: Uint8Array;
      try {
        bytes = exportOnnx(restored, packageVersion());
      } catch (error) {
        if (error instanceof OnnxExportError) throw new UserError(error.message);
        throw error;
      }
      writeFileAtomic(options.out, bytes);
      console.log(`onnx: ${options.out} (${restored.header.algo}, context ${restored.header.contextLength}, ${(bytes.length / 1024).toFixed(0)} KB)`);
    });

  exportCommand
    .command('web')
    .description('write the player page as static files (page, script, MuJoCo WebAssembly, policy) that any static web server serves')
    .argument('<run>', 'a run directory holding policy.safetensors')
    .requiredOption('--out <dir>', 'a new or empty folder')
    .option('--seed <s>', "evaluation seed of the page's episodes (default: the run's evaluation seed, else 0)")
    .option('--best', BEST_FLAG_HELP)
    .action((runDir: string, options: { out: string; seed?: string; best?: boolean }) => {
      const policyPath = checkedPolicyPath(runDir, options.best === true ? 'best' : 'last');
      const settings = playSettings(runDir, options.seed);
      try {
        const files = writeWebExport(readFileSync(policyPath), settings, options.out);
        console.log(`web: ${options.out} (${files.join(', ')}); open it with: python3 -m http.server -d ${options.out} 8000`);
      } catch (error) {
        if (error instanceof WebExportError || error instanceof PlayerAssetsMissing) throw new UserError(error.message);
        throw error;
      }
    });
}
