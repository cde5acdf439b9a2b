#!/usr/bin/env node
/**
 * The `stitch` command. Each area registers its own sub-commands; this file only wires them
 * and turns errors into one-line messages with an exit code (stack traces only with --debug).
 * Bad arguments (an unknown option or command, a missing value) are one line and exit code 2,
 * like every other bad input; help goes only where it is asked for (--help).
 */
import { Command, CommanderError } from 'commander';
import { describeBackend } from '../engine/backends/index.js';
import { activateRequestedBackend } from '../engine/backends/select-node.js';
import { describeNodeAdapters } from '../engine/webgpu/node.js';
import { registerDataCommands } from './data.js';
import { registerEnvCommands } from './env.js';
import { UserError } from './errors.js';
import { registerExportCommands } from './export.js';
import { registerPlayCommands } from './play.js';
import { registerReportCommands } from './report.js';
import { registerSweepCommands } from './sweep.js';
import { registerTrainCommands } from './train.js';

/** BAD_ARGUMENTS: the exit code of every input error (docs/cli.md) */
export const EXIT_BAD_ARGUMENTS = 2;

/** commander's "error: unknown option '--stepz'\n(Did you mean --steps?)" as one stitch line */
function oneLineError(message: string): string {
  return `stitch: ${message.trim().replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')} (see --help)`;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('stitch')
    .description('Offline RL with return-conditioned sequence models (DT, Reinformer, QT, RDT, RVDT)')
    .option('--debug', 'print stack traces on errors')
    .option('--backend <name>', 'numeric backend: webgpu, native, wasm, js or auto (default: STITCH_BACKEND, else auto: the best CPU backend)')
    .option('--threads <n>', 'threads for the numeric kernels (default: STITCH_THREADS, else the cores)')
    // set before the sub-commands are added: commander copies both settings into each of them
    .exitOverride()
    .configureOutput({ outputError: (message, write) => write(`${oneLineError(message)}\n`) })
    // the backend is chosen once, on first use (engine/backends/index.ts), which comes after this
    .hook('preAction', async (_program, action) => {
      const { backend, threads } = program.opts<{ backend?: string; threads?: string }>();
      if (backend !== undefined) process.env.STITCH_BACKEND = backend;
      // the webgpu backend trains; sweeps and workers hand the setting to the `stitch train` processes
      // they start; everything else (evaluation, acting, reports) runs on the CPU backends
      const name = action.name();
      if (name !== 'sweep' && name !== 'worker') {
        for (const line of await activateRequestedBackend(process.env.STITCH_BACKEND, name === 'train')) process.stderr.write(`stitch: ${line}\n`);
      }
      if (threads === undefined) return;
      // commander hands --threads to the program even after a sub-command that has its own (sweep's
      // threads per training process): give it back there
      if (action.options.some((option) => option.long === '--threads')) {
        action.setOptionValue('threads', threads);
        return;
      }
      const count = Number(threads);
      if (threads.trim() === '' || !Number.isSafeInteger(count) || count < 1) throw new UserError(`--threads must be an integer >= 1 (got ${threads})`);
      process.env.STITCH_THREADS = String(count);
    });

  program
    .command('info')
    .description('show the numeric backend in use and the WebGPU adapters with their key limits')
    .action(async () => {
      console.log(`stitch: ${describeBackend()}`);
      for (const line of await describeNodeAdapters()) console.log(line);
    });

  // sub-command groups register here, one line each
  registerDataCommands(program);
  registerEnvCommands(program);
  registerTrainCommands(program);
  registerReportCommands(program);
  registerSweepCommands(program);
  registerExportCommands(program);
  registerPlayCommands(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  const debug = argv.includes('--debug');
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander printed the message (or the help that was asked for); 0 stays 0
      process.exitCode = error.exitCode === 0 ? 0 : EXIT_BAD_ARGUMENTS;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    console.error(`stitch: ${message}`);
    if (debug && error instanceof Error && error.stack) console.error(error.stack);
    process.exitCode = error instanceof UserError ? error.exitCode : 2;
  }
}

await main(process.argv);
