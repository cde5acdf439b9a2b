/**
 * `stitch export onnx RUN_DIR --out policy.onnx` and `stitch export web RUN_DIR --out DIR`: a
 * trained run's policy for other runtimes (an ONNX graph) and as a static page any web server serves.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { restorePolicy } from '../deploy/node.js';
import type { RestoredPolicy } from '../deploy/policy-file.js';
import { exportOnnx, OnnxExportError } from '../export/onnx.js';
import { SafetensorsError } from '../nn/safetensors.js';
import { POLICY_FILE } from '../train/trainer.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { UserError } from './errors.js';

/** the run's policy file, or a one-line error (exit 2) when the run or its policy is missing or invalid */
export function runPolicyPath(runDir: string): string {
  if (!existsSync(runDir) || !statSync(runDir).isDirectory()) throw new UserError(`${runDir}: no such run directory`);
  const path = join(runDir, POLICY_FILE);
  if (!existsSync(path)) throw new UserError(`${runDir}: no ${POLICY_FILE} (train the run first)`);
  return path;
}

function restoreRunPolicy(runDir: string): RestoredPolicy {
  const path = runPolicyPath(runDir);
  try {
    return restorePolicy(path);
  } catch (error) {
    if (error instanceof SafetensorsError) throw new UserError(error.message);
    throw error;
  }
}

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
    .action((runDir: string, options: { out: string }) => {
      const restored = restoreRunPolicy(runDir);
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
}
