/**
 * `stitch play RUN_DIR`: the run's policy driving its task live in a browser tab, served on
 * 127.0.0.1 only.
 */
import type { Command } from 'commander';
import { PlayerAssetsMissing } from '../play/assets.js';
import { startPlayServer } from '../play/server.js';
import { UserError } from './errors.js';
import { BEST_FLAG_HELP, checkedPolicyPath, integer, playSettings } from './run-policy.js';

export function registerPlayCommands(program: Command): void {
  program
    .command('play')
    .description('serve, on 127.0.0.1, a page where the run\'s policy drives its task live (MuJoCo WebAssembly in the page)')
    .argument('<run>', 'a run directory holding policy.safetensors')
    .option('--port <p>', 'port (0: any free port)', '8330')
    .option('--seed <s>', "evaluation seed of the page's episodes (default: the run's evaluation seed, else 0), as stitch eval --seed")
    .option('--best', BEST_FLAG_HELP)
    .action(async (runDir: string, options: { port: string; seed?: string; best?: boolean }) => {
      const port = integer('--port', options.port, 0, 65535) ?? 8330;
      const policyPath = checkedPolicyPath(runDir, options.best === true ? 'best' : 'last');
      const settings = playSettings(runDir, options.seed);
      let server;
      try {
        server = await startPlayServer(policyPath, settings, port);
      } catch (error) {
        if (error instanceof PlayerAssetsMissing) throw new UserError(error.message);
        throw error;
      }
      console.log(`play: ${server.url}  (${policyPath}, seed ${settings.seed}; Ctrl-C stops)`);
      await new Promise<void>((stop) => {
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
    });
}
