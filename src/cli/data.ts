/**
 * `stitch data info|check|convert`. Exit codes: 0 clean, 1 findings (errors; with --strict also
 * warnings), 2 unreadable or bad input.
 */
import type { Command } from 'commander';
import { DataFileError } from '../data/errors.js';
import { formatFinding, hasErrors } from '../data/findings.js';
import type { Finding } from '../data/findings.js';
import type { ActionBounds } from '../data/health.js';
import { DATA_FORMATS, detectFormat, inspectDataset, saveDataset } from '../data/load.js';
import type { DataFormat, LoadedDataset, LoadOptions } from '../data/load.js';
import { UserError } from './errors.js';
import { registerDataMakeCommand } from './env.js';

interface CommonOptions {
  strict?: boolean;
  actionBounds?: string;
  json?: boolean;
}

function parseBounds(text: string | undefined): ActionBounds | undefined {
  if (text === undefined) return undefined;
  const parts = text.split(',').map(Number);
  if (parts.length !== 2 || parts.some((x) => !Number.isFinite(x)) || parts[0]! >= parts[1]!) throw new UserError(`--action-bounds expects LOW,HIGH with LOW < HIGH (got ${JSON.stringify(text)})`);
  // Expanded to the action width once the file is read.
  return { low: Float32Array.of(parts[0]!), high: Float32Array.of(parts[1]!) };
}

async function inspect(path: string, options: CommonOptions, extra: LoadOptions = {}): Promise<LoadedDataset> {
  const scalar = parseBounds(options.actionBounds);
  try {
    const loaded = await inspectDataset(path, { ...extra, strict: options.strict ?? false });
    if (scalar === undefined) return loaded;
    const dim = loaded.arrays.actionDim;
    const actionBounds = { low: new Float32Array(dim).fill(scalar.low[0]!), high: new Float32Array(dim).fill(scalar.high[0]!) };
    return await inspectDataset(path, { ...extra, strict: options.strict ?? false, actionBounds });
  } catch (error) {
    if (error instanceof DataFileError) throw new UserError(error.message, 2);
    throw error;
  }
}

function stats(values: ArrayLike<number>): { min: number; mean: number; max: number } {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    min = Math.min(min, value);
    max = Math.max(max, value);
    sum += value;
  }
  return values.length === 0 ? { min: Number.NaN, mean: Number.NaN, max: Number.NaN } : { min, mean: sum / values.length, max };
}

export function summarize(loaded: LoadedDataset): Record<string, unknown> {
  const { store, arrays } = loaded;
  const lengths = Int32Array.from({ length: store.episodeCount }, (_, e) => store.episodeLength(e));
  const sortedLengths = lengths.slice().sort();
  let terminated = 0;
  let truncated = 0;
  for (let i = 0; i < store.transitionCount; i++) {
    terminated += store.terminated[i]!;
    truncated += store.truncated[i]!;
  }
  return {
    file: loaded.file,
    format: loaded.format,
    rows: arrays.rewards.length,
    transitions: store.transitionCount,
    episodes: store.episodeCount,
    obsDim: store.obsDim,
    actionDim: store.actionDim,
    terminated,
    truncated,
    return: stats(store.episodeReturns()),
    episodeLength: { ...stats(lengths), median: sortedLengths.length === 0 ? Number.NaN : sortedLengths[sortedLengths.length >> 1]! },
    infos: Object.fromEntries(Object.entries(arrays.infos ?? {}).map(([key, info]) => [key, info.dim])),
    attributes: arrays.attributes ?? {},
    findings: loaded.findings,
  };
}

function printFindings(findings: readonly Finding[]): void {
  if (findings.length === 0) console.log('no findings');
  for (const finding of findings) console.log(formatFinding(finding));
}

const number = (x: number): string => (Number.isInteger(x) ? String(x) : x.toPrecision(6));

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('read, check and convert offline RL datasets (D4RL HDF5, Minari, CSV, JSONL)');

  data
    .command('info')
    .description('counts, dimensions, returns, episode lengths and health findings')
    .argument('<file>', 'D4RL .hdf5/.h5, Minari folder, .csv or .jsonl')
    .option('--json', 'print one JSON object')
    .option('--strict', 'treat warnings as errors')
    .option('--action-bounds <low,high>', 'check actions against these bounds')
    .action(async (file: string, options: CommonOptions) => {
      const loaded = await inspect(file, options);
      const summary = summarize(loaded);
      if (options.json === true) {
        console.log(JSON.stringify(summary, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? String(value) : value)));
      } else {
        const ret = summary.return as { min: number; mean: number; max: number };
        const len = summary.episodeLength as { min: number; mean: number; max: number; median: number };
        console.log(`file         ${loaded.file} (${loaded.format})`);
        console.log(`transitions  ${loaded.store.transitionCount} kept of ${loaded.arrays.rewards.length} rows`);
        console.log(`episodes     ${loaded.store.episodeCount} (${summary.terminated as number} terminated, ${summary.truncated as number} truncated)`);
        console.log(`dims         observation ${loaded.store.obsDim}, action ${loaded.store.actionDim}`);
        console.log(`return       min ${number(ret.min)}  mean ${number(ret.mean)}  max ${number(ret.max)}`);
        console.log(`length       min ${len.min}  median ${len.median}  mean ${number(len.mean)}  max ${len.max}`);
        const infos = Object.entries(summary.infos as Record<string, number>);
        if (infos.length > 0) console.log(`infos        ${infos.map(([key, dim]) => `${key}[${dim}]`).join(', ')}`);
        const attributes = Object.entries(summary.attributes as Record<string, unknown>);
        if (attributes.length > 0) console.log(`attributes   ${attributes.map(([key, value]) => `${key}=${String(value)}`).join(', ')}`);
        printFindings(loaded.findings);
      }
      if (hasErrors(loaded.findings)) process.exitCode = 1;
    });

  data
    .command('check')
    .description('health findings only; exit 0 clean, 1 findings, 2 unreadable')
    .argument('<file>', 'D4RL .hdf5/.h5, Minari folder, .csv or .jsonl')
    .option('--strict', 'treat warnings as errors')
    .option('--json', 'print the findings as JSON lines')
    .option('--action-bounds <low,high>', 'check actions against these bounds')
    .action(async (file: string, options: CommonOptions) => {
      const loaded = await inspect(file, options);
      if (options.json === true) for (const finding of loaded.findings) console.log(JSON.stringify(finding));
      else printFindings(loaded.findings);
      if (hasErrors(loaded.findings)) process.exitCode = 1;
    });

  data
    .command('convert')
    .description('convert between D4RL HDF5, Minari, CSV and JSONL (format from the name, or --to)')
    .argument('<in>', 'input dataset')
    .argument('<out>', 'output path (.hdf5/.h5, .csv, .jsonl, or a folder for Minari)')
    .option('--to <format>', `output format: ${DATA_FORMATS.join(', ')}`)
    .option('--strict', 'treat warnings as errors')
    .option('--action-bounds <low,high>', 'check actions against these bounds and record them in the output')
    .action(async (input: string, output: string, options: CommonOptions & { to?: string }) => {
      if (options.to !== undefined && !DATA_FORMATS.includes(options.to as DataFormat)) throw new UserError(`--to must be one of ${DATA_FORMATS.join(', ')} (got ${options.to})`);
      let format: DataFormat;
      try {
        format = (options.to as DataFormat | undefined) ?? detectFormat(output);
      } catch (error) {
        if (error instanceof DataFileError) throw new UserError(error.message, 2);
        throw error;
      }
      const loaded = await inspect(input, options, { nextObservations: true });
      for (const finding of loaded.findings) if (finding.severity !== 'info') console.error(formatFinding(finding));
      if (hasErrors(loaded.findings)) throw new UserError(`${input}: not converted because of the errors above`, 1);
      try {
        await saveDataset(output, loaded.arrays, format, loaded.actionBounds === undefined ? {} : { actionBounds: loaded.actionBounds });
      } catch (error) {
        if (error instanceof DataFileError) throw new UserError(error.message, 2);
        throw error;
      }
      console.log(`wrote ${output} (${format}): ${loaded.store.transitionCount} transitions in ${loaded.store.episodeCount} episodes`);
    });
  registerDataMakeCommand(data);
}
