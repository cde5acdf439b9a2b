#!/usr/bin/env node
/**
 * The `stitch` command. Each area registers its own sub-commands; this file only wires them
 * and turns errors into one-line messages with an exit code (stack traces only with --debug).
 */
import { Command, CommanderError } from 'commander';
import { describeBackend } from '../engine/backends/index.js';
import { registerDataCommands } from './data.js';
import { registerEnvCommands } from './env.js';
import { UserError } from './errors.js';
import { registerExportCommands } from './export.js';
import { registerPlayCommands } from './play.js';
import { registerReportCommands } from './report.js';
import { registerTrainCommands } from './train.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('stitch')
    .description('Offline RL with return-conditioned sequence models (DT, Reinformer, QT, RDT, RVDT)')
    .option('--debug', 'print stack traces on errors')
    .showHelpAfterError();

  program
    .command('info')
    .description('show the numeric backend in use')
    .action(() => {
      console.log(`stitch: ${describeBackend()}`);
    });

  // sub-command groups register here, one line each
  registerDataCommands(program);
  registerEnvCommands(program);
  registerTrainCommands(program);
  registerReportCommands(program);
  registerExportCommands(program);
  registerPlayCommands(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  const debug = argv.includes('--debug');
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    console.error(`stitch: ${message}`);
    if (debug && error instanceof Error && error.stack) console.error(error.stack);
    process.exitCode = error instanceof UserError ? error.exitCode : 2;
  }
}

await main(process.argv);
