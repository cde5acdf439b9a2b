/**
 * `stitch train --config FILE`: a run started from a config file, JSON or YAML (the `yaml`
 * package; JSON is YAML too, so one parser reads both). The file holds the fields of a run
 * config (docs/run-format.md), all optional: a previous run's config.json works as it is, and so
 * does a short hand-written file. Its values become the command's options; flags given on the
 * command line win, and `--set` applies over the file's `algorithm` fields.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { closest } from 'fastest-levenshtein';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { NON_FINITE_POLICIES } from '../train/nonfinite.js';
import { describeIssues, RunConfigSchema } from '../train/config.js';
import { UserError } from './errors.js';

/**
 * The run config's own schema with every field optional (the file's fields cannot drift from what
 * a run directory's config.json holds); a saved config of any format version is accepted.
 */
const ConfigFileSchema = RunConfigSchema.extend({
  formatVersion: z.number().int(),
  preset: z.string().min(1).nullable(),
  // no default: an absent field leaves the command's own default (and its flag) in charge
  onNonFinite: z.enum(NON_FINITE_POLICIES),
  keepBest: z.boolean(),
  evalWorker: z.boolean(),
}).partial().strict();

/** larger than any real config (a few KiB); a bigger file is refused before it is read */
const MAX_CONFIG_FILE_BYTES = 1 << 20;

/** the train options a config file stands for, as the command line would spell them */
export interface ConfigFileOptions {
  algo?: string;
  dataset?: string;
  datasetId?: string;
  env?: string;
  steps?: string;
  seed?: string;
  preset?: string;
  evalEvery?: string;
  evalEpisodes?: string;
  evalSeed?: string;
  evalEnvs?: string;
  logEvery?: string;
  checkpointEvery?: string;
  onNonfinite?: string;
  keepBest?: boolean;
  evalWorker?: boolean;
  set: string[];
}

export function readConfigFile(path: string): ConfigFileOptions {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new UserError(`--config ${path}: no such file`);
  }
  if (size > MAX_CONFIG_FILE_BYTES) throw new UserError(`--config ${path}: ${size} bytes is far more than a config; refusing to read it`);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UserError(`--config ${path}: not valid JSON or YAML (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`);
  }
  const parsed = ConfigFileSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const unknown = parsed.error.issues.flatMap((issue) => (issue.code === 'unrecognized_keys' ? issue.keys : []));
    const known = Object.keys(ConfigFileSchema.shape);
    const hint = unknown.length === 0 ? '' : ` (did you mean ${unknown.map((key) => closest(key, known)).join(', ')}? algorithm fields go under algorithm:)`;
    throw new UserError(`--config ${path}: ${describeIssues(parsed.error.issues)}${hint}`);
  }
  const file = parsed.data;
  const text = (value: number | undefined): string | undefined => (value === undefined ? undefined : String(value));
  return {
    algo: file.algo,
    // a relative dataset path is relative to the config file, wherever the command runs
    dataset: file.dataset === undefined ? undefined : resolve(dirname(path), file.dataset),
    datasetId: file.datasetId,
    env: file.env,
    steps: text(file.steps),
    seed: text(file.seed),
    preset: file.preset === null ? 'none' : file.preset,
    evalEvery: text(file.evalEvery),
    evalEpisodes: text(file.evalEpisodes),
    // a saved run's evalSeed equal to its seed was the default (it follows --seed), so it stays one
    evalSeed: file.evalSeed !== undefined && file.evalSeed === file.seed ? undefined : text(file.evalSeed),
    evalEnvs: text(file.evalEnvs),
    logEvery: text(file.logEvery),
    checkpointEvery: text(file.checkpointEvery),
    onNonfinite: file.onNonFinite,
    // false is the default: only true stands for the flag
    keepBest: file.keepBest === true ? true : undefined,
    evalWorker: file.evalWorker === true ? true : undefined,
    set: Object.entries(file.algorithm ?? {}).map(([key, value]) => `${key}=${JSON.stringify(value)}`),
  };
}
