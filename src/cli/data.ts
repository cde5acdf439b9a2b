/**
 * `stitch data info|check|convert|thin`. Exit codes: 0 clean, 1 findings (errors; with --strict also
 * warnings), 2 unreadable or bad input.
 */
import { realpathSync } from 'node:fs';
import { basename, resolve, sep } from 'node:path';
import type { Command } from 'commander';
import { DataFileError } from '../data/errors.js';
import { formatFinding, hasErrors } from '../data/findings.js';
import type { Finding } from '../data/findings.js';
import type { ActionBounds } from '../data/health.js';
import { DATA_FORMATS, detectFormat, inspectDataset, saveDataset } from '../data/load.js';
import type { DataFormat, LoadedDataset, LoadOptions } from '../data/load.js';
import type { TransitionArrays } from '../data/arrays.js';
import type { TrajectoryStore } from '../data/store.js';
import { gatherEpisodeRows, selectEpisodes, thinHighReturn } from '../data/thin.js';
import type { ReturnDistribution, ThinResult } from '../data/thin.js';
import { Rng } from '../engine/rng.js';
import { UserError } from './errors.js';
import { eitherSpelling } from './options.js';
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

/** The output format from the name (as convert does); an unknown name is bad input. */
function outputFormat(output: string, to?: string): DataFormat {
  try {
    return (to as DataFormat | undefined) ?? detectFormat(output);
  } catch (error) {
    if (error instanceof DataFileError) throw new UserError(error.message, 2);
    throw error;
  }
}

/** convert's and thin's writing path: the format's atomic writer, with the input's action bounds. */
async function save(output: string, arrays: TransitionArrays, format: DataFormat, loaded: LoadedDataset): Promise<void> {
  try {
    await saveDataset(output, arrays, format, loaded.actionBounds === undefined ? {} : { actionBounds: loaded.actionBounds });
  } catch (error) {
    if (error instanceof DataFileError) throw new UserError(error.message, 2);
    throw error;
  }
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
    // `convert IN OUT` was the first spelling; --out is every other command's (docs/cli.md)
    .argument('[out]', 'older spelling of --out')
    .option('--out <path>', 'output path (.hdf5/.h5, .csv, .jsonl, or a folder for Minari)')
    .option('--to <format>', `output format: ${DATA_FORMATS.join(', ')}`)
    .option('--strict', 'treat warnings as errors')
    .option('--action-bounds <low,high>', 'check actions against these bounds and record them in the output')
    .action(async (input: string, positional: string | undefined, options: CommonOptions & { to?: string; out?: string }) => {
      const output = eitherSpelling({ flag: '--out', value: options.out }, { flag: 'the OUT argument', value: positional });
      if (output === undefined) throw new UserError('data convert needs --out PATH (the output file or Minari folder)');
      if (options.to !== undefined && !DATA_FORMATS.includes(options.to as DataFormat)) throw new UserError(`--to must be one of ${DATA_FORMATS.join(', ')} (got ${options.to})`);
      const format = outputFormat(output, options.to);
      const loaded = await inspect(input, options, { nextObservations: true });
      for (const finding of loaded.findings) if (finding.severity !== 'info') console.error(formatFinding(finding));
      if (hasErrors(loaded.findings)) throw new UserError(`${input}: not converted because of the errors above`, 1);
      await save(output, loaded.arrays, format, loaded);
      console.log(`wrote ${output} (${format}): ${loaded.store.transitionCount} transitions in ${loaded.store.episodeCount} episodes`);
    });
  registerThinCommand(data);
  registerDataMakeCommand(data);
}

interface ThinCliOptions {
  out: string;
  topFraction?: string;
  threshold?: string;
  keep: string;
  seed: string;
  dropped?: string;
  json?: boolean;
}

function unitOption(name: string, text: string, openAtZero: boolean): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || (openAtZero ? !(value > 0) : !(value >= 0)) || value > 1) {
    throw new UserError(`${name} must be a number in ${openAtZero ? '(0, 1]' : '[0, 1]'} (got ${text})`);
  }
  return value;
}

/** Absolute path with symbolic links resolved where the path exists. */
function realPath(path: string): string {
  const absolute = resolve(path);
  try {
    return realpathSync(absolute);
  } catch {
    return absolute;
  }
}

/** File attributes that say the output was thinned and how; earlier stitch_thin_* keys are replaced, other source attributes kept. */
function thinAttributes(loaded: LoadedDataset, input: string, seed: number, result: ThinResult): Record<string, string | number> {
  const attributes: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(loaded.arrays.attributes ?? {})) if (!key.startsWith('stitch_thin')) attributes[key] = value;
  const { summary } = result;
  attributes.stitch_thinned = 1;
  attributes.stitch_thin_source = basename(resolve(input));
  if ('topFraction' in summary.rule) attributes.stitch_thin_top_fraction = summary.rule.topFraction;
  else attributes.stitch_thin_threshold = summary.rule.threshold;
  attributes.stitch_thin_keep = summary.keep;
  attributes.stitch_thin_seed = seed;
  attributes.stitch_thin_high_return_threshold = summary.highReturn.threshold;
  attributes.stitch_thin_high_total = summary.highReturn.count;
  attributes.stitch_thin_high_kept = summary.highReturn.kept;
  attributes.stitch_thin_source_episodes = summary.trajectories.before;
  attributes.stitch_thin_source_transitions = summary.transitions.before;
  return attributes;
}

const distribution = (d: ReturnDistribution): string =>
  `min ${number(d.min)}  p25 ${number(d.p25)}  median ${number(d.median)}  p75 ${number(d.p75)}  p90 ${number(d.p90)}  max ${number(d.max)}  mean ${number(d.mean)}`;

function registerThinCommand(data: Command): void {
  data
    .command('thin')
    .description('make high-return trajectories rare: keep a seeded random share of the top trajectories by return, all others whole and in order')
    .argument('<in>', 'input dataset (D4RL .hdf5/.h5, Minari folder, .csv or .jsonl)')
    .requiredOption('--out <path>', 'output path; the format comes from the name as in convert (.hdf5/.h5, .csv, .jsonl, or a folder for Minari)')
    .option('--top-fraction <f>', 'the top fraction of trajectories by return that counts as high-return, in (0, 1] (default 0.1)')
    .option('--threshold <r>', 'instead of --top-fraction: every trajectory whose return reaches R is high-return')
    .option('--keep <p>', 'share of the high-return trajectories to keep, in [0, 1]', '0.1')
    .option('--seed <s>', 'seed of the draw of kept high-return trajectories', '0')
    .option('--dropped <path>', 'also write the dropped high-return trajectories here (e.g. as a held-out set for `stitch eval --dataset`)')
    .option('--json', 'print the summary as one JSON object')
    .action(async (input: string, options: ThinCliOptions) => {
      if (options.topFraction !== undefined && options.threshold !== undefined) throw new UserError('give --top-fraction or --threshold, not both');
      const topFraction = options.topFraction === undefined ? undefined : unitOption('--top-fraction', options.topFraction, true);
      let threshold: number | undefined;
      if (options.threshold !== undefined) {
        threshold = Number(options.threshold);
        if (options.threshold.trim() === '' || !Number.isFinite(threshold)) throw new UserError(`--threshold must be a finite return (got ${options.threshold})`);
      }
      const keep = unitOption('--keep', options.keep, false);
      const seed = Number(options.seed);
      if (!Number.isSafeInteger(seed) || seed < 0) throw new UserError(`--seed must be an integer >= 0 (got ${options.seed})`);
      const output = options.out;
      const format = outputFormat(output);
      if (realPath(output) === realPath(input)) throw new UserError(`--out ${output} is the input; write the thinned dataset to a new path`);
      const droppedOutput = options.dropped;
      const droppedFormat = droppedOutput === undefined ? undefined : outputFormat(droppedOutput);
      if (droppedOutput !== undefined && (realPath(droppedOutput) === realPath(input) || realPath(droppedOutput) === realPath(output))) {
        throw new UserError(`--dropped ${droppedOutput} must differ from the input and from --out`);
      }

      const loaded = await inspect(input, {}, { nextObservations: true });
      const source = realPath(loaded.file);
      if (realPath(output) === source || source.startsWith(realPath(output) + sep)) throw new UserError(`--out ${output} would replace the input ${loaded.file}; write the thinned dataset to a new path`);
      for (const finding of loaded.findings) if (finding.severity !== 'info') console.error(formatFinding(finding));
      if (hasErrors(loaded.findings)) throw new UserError(`${input}: not thinned because of the errors above`, 1);

      let result: ThinResult;
      try {
        result = thinHighReturn(loaded.store, { keep, rng: new Rng(seed), ...(threshold === undefined ? { topFraction } : { threshold }) });
      } catch (error) {
        if (error instanceof RangeError) throw new UserError(`${input}: ${error.message}`);
        throw error;
      }
      if (result.store.episodeCount === 0) throw new UserError(`${input}: thinning would leave no trajectories (every trajectory is high-return and --keep ${keep} keeps none of them)`);
      if (droppedOutput !== undefined && result.droppedEpisodes.length === 0) throw new UserError(`${input}: --keep ${keep} drops no trajectories, so there is nothing to write to --dropped ${droppedOutput}`);
      const attributes = thinAttributes(loaded, input, seed, result);
      const next = loaded.arrays.nextObservations;
      const written = (store: TrajectoryStore, episodes: Int32Array, extra: Record<string, string | number>): TransitionArrays => {
        const arrays = store.toArrays({ ...attributes, ...extra });
        if (next !== undefined) arrays.nextObservations = gatherEpisodeRows(loaded.store, episodes, next, loaded.store.obsDim);
        return arrays;
      };
      await save(output, written(result.store, result.keptEpisodes, {}), format, loaded);
      if (droppedOutput !== undefined && droppedFormat !== undefined) {
        await save(droppedOutput, written(selectEpisodes(loaded.store, result.droppedEpisodes), result.droppedEpisodes, { stitch_thin_part: 'dropped' }), droppedFormat, loaded);
      }

      const { summary } = result;
      const metadata = format === 'd4rl' ? 'file attributes stitch_thinned, stitch_thin_*' : format === 'minari' ? 'not recorded (the Minari writer keeps only dataset_id and env_id)' : `not recorded (${format} has no file-level metadata)`;
      if (options.json === true) {
        const record = { input, output, format, seed, sourceRows: loaded.arrays.rewards.length, trailingDropped: loaded.segmentation.trailingDropped, ...summary, metadata: format === 'd4rl' ? attributes : null };
        console.log(JSON.stringify(record, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? String(value) : value)));
        return;
      }
      const rule = 'topFraction' in summary.rule ? `top fraction ${summary.rule.topFraction} of trajectories by return` : `return >= ${summary.rule.threshold}`;
      const high = summary.highReturn;
      console.log(`wrote ${output} (${format}) from ${loaded.file}, seed ${seed}`);
      console.log(`high return   ${rule}: ${high.count} trajectories, lowest return ${number(high.threshold)}`);
      console.log(`kept          ${high.kept} of ${high.count} high-return (keep ${keep}), ${high.dropped} dropped; their transitions ${high.transitions.before} -> ${high.transitions.after}`);
      console.log(`trajectories  ${summary.trajectories.before} -> ${summary.trajectories.after}`);
      console.log(`transitions   ${summary.transitions.before} -> ${summary.transitions.after}${loaded.segmentation.trailingDropped > 0 ? ` (${loaded.segmentation.trailingDropped} rows after the last episode boundary not written)` : ''}`);
      console.log(`return before ${distribution(summary.returns.before)}`);
      console.log(`return after  ${distribution(summary.returns.after)}`);
      console.log(`metadata      ${metadata}`);
      if (droppedOutput !== undefined) console.log(`dropped       ${result.droppedEpisodes.length} high-return trajectories written to ${droppedOutput}`);
    });
}
