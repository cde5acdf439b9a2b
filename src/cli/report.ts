/**
 * `stitch report RUN_DIR`, `stitch compare RUN_DIR... --out FILE.html` and `stitch dashboard`.
 */
import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { startDashboard } from '../dashboard/server.js';
import type { Comparison } from '../report/compare.js';
import { CompareError, writeComparison, writeRunReport } from '../report/report.js';
import { RunConfigError } from '../train/config.js';
import { UserError } from './errors.js';

function requireRunDir(dir: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`${dir}: no such run directory`);
}

export function registerReportCommands(program: Command): void {
  program
    .command('report')
    .description("write RUN_DIR/report.html (self-contained: config, dataset, loss curves, evaluation, rollouts) from a run's files")
    .argument('<run>', 'a run directory')
    .action(async (runDir: string) => {
      requireRunDir(runDir);
      try {
        console.log(`report: ${await writeRunReport(runDir)}`);
      } catch (error) {
        if (error instanceof RunConfigError) throw new UserError(error.message, 2);
        throw error;
      }
    });

  program
    .command('compare')
    .description('put finished runs side by side, grouped by their config minus the seed: curves, mean ± std and IQM with a bootstrap CI of the final scores')
    .argument('<runs...>', 'run directories (unfinished ones are skipped with a note)')
    .requiredOption('--out <file>', 'the HTML file to write')
    .action((runDirs: string[], options: { out: string }) => {
      runDirs.forEach(requireRunDir);
      let comparison: Comparison;
      try {
        comparison = writeComparison(runDirs, options.out);
      } catch (error) {
        if (error instanceof CompareError) throw new UserError(error.message, 2);
        throw error;
      }
      for (const run of comparison.skipped) console.error(`stitch: note: skipped ${run.name} (${run.reason})`);
      if (comparison.differingFields.length > 0) console.log(`groups differ in: ${comparison.differingFields.join(', ')}`);
      for (const group of comparison.groups) {
        const seeds = group.singleRun ? '1 run (no spread over seeds)' : `${group.runs.length} seeds`;
        console.log(`${group.label}: ${seeds}, IQM ${group.iqm.toFixed(1)} [${group.iqmLow.toFixed(1)}, ${group.iqmHigh.toFixed(1)}]`);
      }
      console.log(`comparison: ${options.out}`);
    });

  program
    .command('dashboard')
    .description('serve a live dashboard of the runs in a directory (127.0.0.1 unless --host is given; another address requires the printed token)')
    .option('--runs <dir>', 'the directory holding run directories', 'runs')
    .option('--port <p>', 'port (0: any free port)', '8321')
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .action(async (options: { runs: string; port: string; host: string }) => {
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`--port must be an integer in 0..65535 (got ${options.port})`);
      if (!existsSync(options.runs)) throw new UserError(`--runs ${options.runs}: no such directory`);
      const dashboard = await startDashboard({ runsDir: options.runs, port, host: options.host });
      for (const warning of dashboard.warnings) console.error(warning);
      console.log(`dashboard: ${dashboard.url}  (runs in ${options.runs}; Ctrl-C stops)`);
      await new Promise<void>((stop) => {
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await dashboard.close();
    });
}
