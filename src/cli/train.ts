/**
 * `stitch train` (new runs, --resume, and the embedded default) and `stitch eval` (re-evaluate a
 * run's policy file). Every problem is one line: exit code 2 for bad input, 3 for a run halted by
 * a non-finite loss, gradient or training target, 4 for a write that failed (a full disk), 130/143
 * for a run interrupted by SIGINT/SIGTERM (checkpointed at the current step); after 3, 4, 130 and
 * 143 the run's last checkpoint is intact and --resume continues from it. The report is written
 * here, after training returns, so training code never imports the report.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { DataFileError } from '../data/errors.js';
import { backend } from '../engine/index.js';
import { loadDataset } from '../data/load.js';
import { SafetensorsError } from '../nn/safetensors.js';
import { FileWriteError } from '../util/atomic-file.js';
import { camelCaseKeys } from '../util/json-keys.js';
import { CheckpointError } from '../train/checkpoint.js';
import { resolveRunConfig, RunConfigError, type RunRequest } from '../train/config.js';
import { ensureGeneratedDataset } from '../train/datasets.js';
import { evaluateConditions, type EvaluationRecord } from '../train/evaluate.js';
import { NON_FINITE_POLICIES, type NonFinitePolicy } from '../train/nonfinite.js';
import { DEFAULT_HELD_OUT_BATCHES, heldOutActionError, type HeldOutActionError } from '../train/offline-eval.js';
import { loadPolicy } from '../deploy/node.js';
import { ActingSettingsError } from '../deploy/policy-file.js';
import { Progress } from '../train/progress.js';
import { POLICY_FILE, readRunConfig } from '../train/run-files.js';
import { TensorboardMirror } from '../train/tensorboard.js';
import { useCpuBackend } from '../train/residency.js';
import { resumeRun, RunInterruptedError, RunStoppedError, startRun, type TrainIO, type TrainOutcome } from '../train/trainer.js';
import { writeRunReport } from '../report/report.js';
import { checkOverrideKeys } from './config-fields.js';
import { readConfigFile, type ConfigFileOptions } from './config-file.js';
import { resolveEnvName } from './env.js';
import { UserError } from './errors.js';
import { handleInterrupts, SIGNAL_EXIT_CODES, type InterruptHandle } from './interrupt.js';
import { addHiddenAlias, eitherSpelling } from './options.js';

/**
 * What `stitch train` runs when neither --algo nor --dataset is given: QT on a locally generated
 * maze2d-umaze-v1 (D4RL's size, cached), a job that learns the task in under 10 minutes on 2
 * cores with the native backend, dataset generation included (docs/results.md, "The main job").
 * The trunk is the one 2 cores afford (width 64, 2 layers, batch 64, 12 candidates at acting);
 * η 1.5 rather than the preset's 5, whose good policies degrade within a few thousand steps; the
 * cosine reaches 0 at the last step (100 iterations of 80 steps). Scores swing between
 * evaluations, so the run evaluates every 1000 steps on 30 episodes and keeps the best evaluated
 * weights (policy-best.safetensors, the policy `stitch play --best` and the exports ship), and
 * evaluates on a worker thread beside training, which keeps the eight evaluations nearly free of
 * wall time. Any other flag still applies (--seed, --steps, --set, --out, ...).
 */
export const EMBEDDED_DEFAULT = {
  algo: 'qt',
  env: 'maze2d-umaze-v1',
  steps: 8000,
  evalEvery: 1000,
  evalEpisodes: 30,
  overrides: {
    width: 64, layers: 2, heads: 1, mlpWidth: 256, batchSize: 64, actorLr: 1e-3, eta: 1.5, iterations: 100, stepsPerIteration: 80, candidates: 12,
  },
  keepBest: true,
  evalWorker: true,
} as const;

/** what a config file can say (as the command line spells it), and the options it cannot */
interface TrainOptions extends Partial<ConfigFileOptions> {
  out?: string;
  resume?: string;
  overwrite?: boolean;
  allowDataLoss?: boolean;
  config?: string;
  tensorboard?: string;
}

export const EXIT_NON_FINITE = 3;
export const EXIT_WRITE_FAILED = 4;
export const EXIT_DEVICE_LOST = 5;

function nonFinitePolicy(value: string | undefined): NonFinitePolicy | undefined {
  if (value === undefined) return undefined;
  const policy = NON_FINITE_POLICIES.find((candidate) => candidate === value);
  if (policy === undefined) throw new UserError(`--on-nonfinite must be ${NON_FINITE_POLICIES.join(' or ')} (got ${value})`);
  return policy;
}

interface EvalOptions {
  evalEpisodes?: string;
  evalEnvs?: string;
  /** older spellings of evalEpisodes, evalEnvs */
  episodes?: string;
  seed?: string;
  envs?: string;
  json?: boolean;
  dataset?: string;
  batches?: string;
  batchSize?: string;
  /** acting settings, KEY=VALUE */
  set?: string[];
}

function integerOption(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(parsed) || parsed < min) throw new UserError(`${name} must be an integer >= ${min} (got ${value})`);
  return parsed;
}

/** `300,150,20`: numbers separated by commas, as a list (what a user types for targetReturns) */
const NUMBER_LIST = /^\s*-?[\d.]+(?:e[-+]?\d+)?(?:\s*,\s*-?[\d.]+(?:e[-+]?\d+)?)+\s*$/i;

/** KEY=VALUE; the value is read as JSON (numbers, booleans, arrays, null), a comma-separated list of numbers as an array, or else kept as text */
function parseOverrides(assignments: readonly string[]): Record<string, unknown> {
  const overrides: Record<string, unknown> = {};
  for (const assignment of assignments) {
    const equals = assignment.indexOf('=');
    if (equals <= 0) throw new UserError(`--set expects KEY=VALUE (got ${JSON.stringify(assignment)})`);
    const key = assignment.slice(0, equals);
    const text = assignment.slice(equals + 1);
    try {
      overrides[key] = JSON.parse(text);
    } catch {
      overrides[key] = NUMBER_LIST.test(text) ? text.split(',').map(Number) : text;
    }
  }
  return overrides;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** library errors that mean "your input is wrong" become one-line user errors */
async function asUserErrors<T>(work: () => Promise<T>, interrupts?: InterruptHandle): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof RunInterruptedError) throw new UserError(error.message, SIGNAL_EXIT_CODES[interrupts?.received() ?? 'SIGINT']);
    if (error instanceof RunConfigError || error instanceof CheckpointError || error instanceof DataFileError || error instanceof SafetensorsError || error instanceof ActingSettingsError) {
      throw new UserError(error.message, 2);
    }
    if (error instanceof RunStoppedError) {
      throw new UserError(error.message, error.reason === 'non-finite' ? EXIT_NON_FINITE : error.reason === 'device-lost' ? EXIT_DEVICE_LOST : EXIT_WRITE_FAILED);
    }
    if (error instanceof FileWriteError) throw new UserError(error.message, EXIT_WRITE_FAILED);
    throw error;
  }
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

function reportOutcome(outcome: TrainOutcome, reportPath: string): void {
  const score = (record: EvaluationRecord): string => (record.normalized_score === null
    ? `return ${record.mean_return.toFixed(2)} ± ${record.std_return.toFixed(2)}`
    : `${record.normalized_score.toFixed(1)} ± ${(record.normalized_std ?? 0).toFixed(1)}`);
  console.log(`last  step ${outcome.last.step}: normalized score ${score(outcome.last)} (${outcome.last.headline})`);
  console.log(`best  step ${outcome.best.step}: normalized score ${score(outcome.best)} (${outcome.best.headline})`);
  if (outcome.bestPolicyPath !== null) {
    console.log(`best policy: ${outcome.bestPolicyPath} (scored on the episodes that selected it; other episodes: stitch eval ${outcome.bestPolicyPath} --seed N)`);
  }
  if (outcome.skippedBatches > 0) console.log(`skipped batches: ${outcome.skippedBatches} (non-finite loss or gradient)`);
  console.log(`results: ${outcome.evalPath}`);
  console.log(`report: ${reportPath}`);
  console.log(`policy: ${outcome.policyPath}`);
}

/** --config FILE's values under the flags given on the command line (--set after the file's algorithm fields) */
function withConfigFile(options: TrainOptions): TrainOptions {
  if (options.config === undefined) return options;
  const { set: fileSet, ...fromFile } = readConfigFile(options.config);
  const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  return { ...fromFile, ...given, set: [...fileSet, ...(options.set ?? [])] };
}

async function newRun(requested: TrainOptions, io: (runDir: string) => TrainIO, signal: AbortSignal): Promise<TrainOutcome> {
  const options = withConfigFile(requested);
  const embedded = options.algo === undefined && options.dataset === undefined;
  const env = options.env === undefined ? EMBEDDED_DEFAULT.env : resolveEnvName(options.env);
  // bad --set keys fail before a dataset is generated or read
  const overrides = parseOverrides(options.set ?? []);
  checkOverrideKeys(options.algo ?? EMBEDDED_DEFAULT.algo, overrides);
  if (options.dataset !== undefined && !existsSync(options.dataset)) throw new UserError(`--dataset ${options.dataset}: no such file or folder`);
  const datasetPath = options.dataset ?? await ensureGeneratedDataset(env, {
    onProgress: (done, total) => process.stderr.write(`generating ${env} dataset (cached for later runs): ${done}/${total} steps\n`),
  });
  const loaded = await loadDataset(datasetPath);
  const fileId = loaded.arrays.attributes?.dataset_id;
  const request: RunRequest = {
    algo: options.algo ?? EMBEDDED_DEFAULT.algo,
    dataset: datasetPath,
    env,
    datasetId: options.datasetId,
    seed: integerOption('--seed', options.seed, 0),
    steps: integerOption('--steps', options.steps, 1) ?? (embedded ? EMBEDDED_DEFAULT.steps : undefined),
    evalEvery: integerOption('--eval-every', options.evalEvery, 0) ?? (embedded ? EMBEDDED_DEFAULT.evalEvery : undefined),
    evalEpisodes: integerOption('--eval-episodes', options.evalEpisodes, 1) ?? (embedded ? EMBEDDED_DEFAULT.evalEpisodes : undefined),
    evalSeed: integerOption('--eval-seed', options.evalSeed, 0),
    evalEnvs: integerOption('--eval-envs', options.evalEnvs, 1),
    logEvery: integerOption('--log-every', options.logEvery, 1),
    checkpointEvery: integerOption('--checkpoint-every', options.checkpointEvery, 0),
    preset: options.preset,
    overrides: { ...(embedded ? EMBEDDED_DEFAULT.overrides : {}), ...overrides },
    onNonFinite: nonFinitePolicy(options.onNonfinite),
    keepBest: options.keepBest === true || (embedded && EMBEDDED_DEFAULT.keepBest),
    evalWorker: options.evalWorker === true || (embedded && EMBEDDED_DEFAULT.evalWorker),
  };
  const config = resolveRunConfig(request, typeof fileId === 'string' ? fileId : undefined);
  // the main job's 10 minutes are the native backend's; the progress line's ETA gives the rest
  const kernels = backend().name;
  if (embedded && (kernels === 'wasm' || kernels === 'js')) {
    process.stderr.write(`note: the embedded default is sized for the native backend (about 9 minutes on 2 cores with OpenBLAS; \`stitch info\` says why it is not in use); on the ${kernels} backend it takes ${kernels === 'wasm' ? 'about twice as long' : 'hours'}; --steps shortens it, at a cost in score\n`);
  }
  const runDir = options.out ?? join('runs', `${config.algo}-${config.env}-seed${config.seed}-${timestamp()}`);
  return startRun(runDir, config, io(runDir), loaded, {
    signal, overwrite: options.overwrite === true, allowDataLoss: options.allowDataLoss === true,
  });
}

/**
 * --tensorboard: a mirror of the run's logs, brought up to date whenever the trainer prints
 * (progress lines come at least every 5 s, and each evaluation), at most once a second, and
 * completely when training ends (or stops). The copy is a convenience: a write that fails there
 * is reported once and mirroring stops, while training goes on (its own files are the record).
 */
class TensorboardLink {
  private mirror: TensorboardMirror | null = null;
  private lastSync = 0;
  private failed = false;

  constructor(private readonly dir: string | undefined) {
    if (dir !== undefined && existsSync(dir) && !statSync(dir).isDirectory()) throw new UserError(`--tensorboard ${dir}: not a directory`);
  }

  private guarded(work: () => void): void {
    if (this.failed) return;
    try {
      work();
    } catch (error) {
      this.failed = true;
      process.stderr.write(`stitch: warning: TensorBoard copy stopped (${error instanceof Error ? error.message : String(error)}); the run's own files are unaffected\n`);
    }
  }

  get path(): string | null {
    return this.mirror?.path ?? null;
  }

  io(runDir: string): TrainIO {
    if (this.dir === undefined) return { stream: process.stderr };
    const mirror = new TensorboardMirror(runDir, this.dir);
    this.mirror = mirror;
    const stream = process.stderr;
    return {
      stream: {
        isTTY: stream.isTTY,
        write: (text: string) => {
          const written = stream.write(text);
          const now = performance.now();
          if (now - this.lastSync >= 1000) {
            this.lastSync = now;
            this.guarded(() => mirror.sync());
          }
          return written;
        },
      },
    };
  }

  /**
   * ran: the run trained (it may have stopped early); its logs are mirrored even when it ended
   * before the first throttled sync. A run refused or failed before that leaves no event file.
   */
  close(ran: boolean): void {
    const { mirror } = this;
    if (mirror === null) return;
    this.guarded(() => {
      if (ran) mirror.sync();
      mirror.close();
    });
  }
}

export function registerTrainCommands(program: Command): void {
  program
    .command('train')
    .description('train an algorithm on a dataset, evaluating and checkpointing as it goes; with no arguments, the embedded default (QT on a generated maze2d-umaze, about 10 minutes on 2 cores)')
    .option('--algo <name>', 'algorithm (dt, reinformer, ...)')
    .option('--dataset <file>', 'D4RL .hdf5, Minari folder, .csv or .jsonl (default: a generated Maze2D dataset for --env, cached)')
    .option('--dataset-id <id>', "dataset id for presets (default: the file's dataset_id attribute, else --env)")
    .option('--env <id>', `evaluation task (default ${EMBEDDED_DEFAULT.env})`)
    .option('--steps <n>', "gradient steps (default: the algorithm's, after the preset)")
    .option('--seed <s>', 'training seed (default 0)')
    .option('--preset <name>', "the algorithm's preset for a dataset id, or none (default: the dataset id's preset, when there is one)")
    .option('--eval-every <n>', 'evaluate every N steps; 0: only at the end (default steps/10)')
    .option('--eval-episodes <m>', 'episodes per evaluation condition (default 10)')
    .option('--eval-seed <s>', 'evaluation seed (default: --seed)')
    .option('--eval-envs <n>', 'environments stepped side by side in evaluation (default 32)')
    .option('--log-every <n>', 'a metrics record every N steps (default min(100, steps/10))')
    .option('--checkpoint-every <n>', 'a checkpoint every N steps; 0: only at the end (default steps/10)')
    .option('--set <key=value>', 'an algorithm config field (repeatable), e.g. --set batchSize=64', collect, [])
    .option('--out <dir>', 'run directory; must not exist or be empty (default runs/<algo>-<env>-seed<s>-<time>)')
    .option('--overwrite', 'with --out: replace the run already in that directory')
    .option('--resume <dir>', 'continue the run in <dir> from its last good checkpoint (from step 0 when it has none), with its saved config; --steps raises its budget')
    .option('--allow-data-loss', 'train even when segmentation keeps less than half of the dataset\'s rows')
    .option('--on-nonfinite <policy>', 'a NaN or infinite loss or gradient: halt (stop, keeping the last checkpoint) or skip (drop the batch, count it); with --resume, changes the saved setting (default halt)')
    .option('--keep-best', "also keep the weights of the best evaluation as policy-best.safetensors (policy.safetensors stays the last step's); its score was measured on the episodes that chose it, so confirm it on others with stitch eval RUN/policy-best.safetensors --seed N")
    .option('--eval-worker', 'evaluate on a worker thread while training goes on (the same scores; training and evaluation take one thread each of --threads)')
    .option('--config <file>', "start from a config file, JSON or YAML (e.g. a previous run's config.json); flags given here win, --set applies over its algorithm fields")
    .option('--tensorboard <dir>', 'also write TensorBoard event files of the metrics and evaluations to <dir> (as the run logs them)')
    .action(async (options: TrainOptions) => {
      const interrupts = handleInterrupts(process, (text) => process.stderr.write(text));
      const tensorboard = new TensorboardLink(options.tensorboard);
      try {
        const outcome = await asUserErrors(async () => {
          if (options.resume === undefined) return newRun(options, (runDir) => tensorboard.io(runDir), interrupts.signal);
          // onNonfinite and allowDataLoss change nothing in a run without faults, steps only extends it, and the TensorBoard copy changes nothing at all, so a resumed run may change them
          const changeable = new Set(['resume', 'onNonfinite', 'steps', 'allowDataLoss', 'tensorboard']);
          const given = Object.entries(options).filter(([key, value]) => !changeable.has(key) && value !== undefined && !(Array.isArray(value) && value.length === 0));
          if (given.length > 0) throw new UserError(`--resume continues a run with its saved config; drop ${given.map(([key]) => flagName(key)).join(', ')}`);
          const onNonFinite = nonFinitePolicy(options.onNonfinite);
          const steps = integerOption('--steps', options.steps, 1);
          return resumeRun(options.resume, tensorboard.io(options.resume), {
            signal: interrupts.signal, allowDataLoss: options.allowDataLoss === true,
            ...(onNonFinite === undefined ? {} : { onNonFinite }), ...(steps === undefined ? {} : { steps }),
          });
        }, interrupts).then((ran) => {
          tensorboard.close(true);
          return ran;
        }, (error: unknown) => {
          tensorboard.close(false);
          throw error;
        });
        interrupts.dispose();
        // the report reads every file training wrote, so it comes last; it acts on the CPU (as evaluation does)
        useCpuBackend();
        const reportPath = await asUserErrors(() => writeRunReport(outcome.runDir));
        reportOutcome(outcome, reportPath);
        if (tensorboard.path !== null) console.log(`tensorboard: ${tensorboard.path}`);
      } finally {
        interrupts.dispose();
      }
    });

  const evalCommand = program
    .command('eval')
    .description("evaluate a run's policy file (by default with the run's evaluation settings, reproducing its final evaluation); with --dataset, its held-out action error on logged trajectories instead")
    .argument('<run>', 'a run directory or a policy .safetensors file')
    .option('--eval-episodes <n>', "episodes per condition (default: the run's --eval-episodes, else 10)")
    .option('--seed <s>', "evaluation seed (default: the run's evaluation seed, else 0; with --dataset, 0)")
    .option('--eval-envs <n>', "environments stepped side by side (default: the run's, else 32)")
    .option('--dataset <file>', 'no environment: score the policy\'s actions against this dataset\'s (D4RL .hdf5, Minari folder, .csv or .jsonl), teacher-forced on its own returns-to-go')
    .option('--batches <n>', `with --dataset: window batches scored (default ${DEFAULT_HELD_OUT_BATCHES})`)
    .option('--batch-size <n>', "with --dataset: windows per batch (default: the algorithm's batchSize)")
    .option('--set <key=value>', "an acting setting instead of the policy file's (repeatable): the evaluation targets (targetReturns), QT's and RVDT's candidates, selection and criticReturn", collect, [])
    .option('--json', 'print one JSON object (the format of eval.json\'s last block; with --dataset, the held-out action error)');
  addHiddenAlias(evalCommand, '--episodes <n>', 'episodes per condition');
  addHiddenAlias(evalCommand, '--envs <n>', 'environments stepped side by side');
  evalCommand.action(async (target: string, given: EvalOptions) => {
      const { episodes, envs, ...rest } = given;
      const options: EvalOptions = {
        ...rest,
        evalEpisodes: eitherSpelling({ flag: '--eval-episodes', value: given.evalEpisodes }, { flag: '--episodes', value: episodes }),
        evalEnvs: eitherSpelling({ flag: '--eval-envs', value: given.evalEnvs }, { flag: '--envs', value: envs }),
      };
      const { dataset } = options;
      if (dataset !== undefined) {
        // as typed: the message names the spelling the user used
        const result = await asUserErrors(() => heldOutEvaluation(target, dataset, given));
        if (options.json === true) console.log(JSON.stringify(camelCaseKeys(result)));
        else printHeldOut(result);
        return;
      }
      const record = await asUserErrors(async () => {
        const misplaced = (['batches', 'batchSize'] as const).filter((key) => options[key] !== undefined);
        if (misplaced.length > 0) throw new UserError(`${misplaced.map(flagName).join(', ')} ${misplaced.length === 1 ? 'applies' : 'apply'} to held-out evaluation; add --dataset FILE`);
        const { run, policyPath } = resolvePolicyTarget(target);
        const policy = loadPolicy(policyPath, { acting: parseOverrides(options.set ?? []) });
        // progress on stderr under the training rules, so --json output on stdout stays one object
        const progress = new Progress(process.stderr, 0, 0);
        const record = await evaluateConditions(policy.header.step, policy.conditions, (n, condition, rng) => policy.createVectorPolicy(n, condition, rng), {
          env: policy.header.envId,
          episodes: integerOption('--eval-episodes', options.evalEpisodes, 1) ?? run?.evalEpisodes ?? 10,
          seed: integerOption('--seed', options.seed, 0) ?? run?.evalSeed ?? 0,
          numEnvs: integerOption('--eval-envs', options.evalEnvs, 1) ?? run?.evalEnvs ?? 32,
        }, { onProgress: (at) => progress.evaluation(null, at) });
        progress.finish();
        return record;
      });
      if (options.json === true) {
        // eval.json's `last`, key for key (camelCase, as every JSON the CLI writes)
        console.log(JSON.stringify(camelCaseKeys(record)));
        return;
      }
      console.log(`${record.env}  step ${record.step}  ${record.episodes} episodes per condition  seed ${record.seed}`);
      for (const condition of record.conditions) {
        const normalized = condition.normalized_score === null ? 'n/a' : `${condition.normalized_score.toFixed(1)} ± ${(condition.normalized_std ?? 0).toFixed(1)}`;
        console.log(`${condition.label.padEnd(16)} normalized ${normalized}  return ${condition.mean_return.toFixed(2)} ± ${condition.std_return.toFixed(2)}  length ${condition.mean_length.toFixed(1)}`);
      }
    });
}

const flagName = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** a run directory (its config and policy file) or a policy file */
function resolvePolicyTarget(target: string): { run: ReturnType<typeof readRunConfig> | undefined; policyPath: string } {
  if (!existsSync(target)) throw new UserError(`${target}: no such run directory or policy file`);
  const isRunDir = statSync(target).isDirectory();
  const run = isRunDir ? readRunConfig(target) : undefined;
  const policyPath = isRunDir ? join(target, POLICY_FILE) : target;
  if (!existsSync(policyPath)) throw new UserError(`${target}: no ${POLICY_FILE} yet (it is written when training finishes)`);
  return { run, policyPath };
}

type HeldOutRecord = HeldOutActionError & { dataset: string; policy: string };

/** `stitch eval TARGET --dataset FILE`: no environment, the held-out action error on FILE's trajectories */
async function heldOutEvaluation(target: string, dataset: string, options: EvalOptions): Promise<HeldOutRecord> {
  const misplaced: string[] = (['evalEpisodes', 'episodes', 'evalEnvs', 'envs'] as const).filter((key) => options[key] !== undefined);
  // held-out scoring is teacher-forced on the data's returns: no acting setting enters it
  if ((options.set ?? []).length > 0) misplaced.push('set');
  if (misplaced.length > 0) throw new UserError(`${misplaced.map(flagName).join(', ')} ${misplaced.length === 1 ? 'applies' : 'apply'} to evaluation in the environment; --dataset scores logged actions (use --batches, --batch-size, --seed)`);
  const batches = integerOption('--batches', options.batches, 1);
  const batchSize = integerOption('--batch-size', options.batchSize, 1);
  const seed = integerOption('--seed', options.seed, 0);
  const { policyPath } = resolvePolicyTarget(target);
  if (!existsSync(dataset)) throw new UserError(`--dataset ${dataset}: no such file or folder`);
  const { store } = await loadDataset(dataset);
  const result = heldOutActionError(policyPath, store, {
    ...(batches === undefined ? {} : { batches }),
    ...(batchSize === undefined ? {} : { batchSize }),
    ...(seed === undefined ? {} : { seed }),
    datasetName: dataset,
  });
  return { ...result, dataset, policy: policyPath };
}

function printHeldOut(result: HeldOutRecord): void {
  const spread = result.standard_error === null ? '' : ` ± ${result.standard_error.toPrecision(2)} (standard error over ${result.batches} batches)`;
  console.log(`${result.policy} (${result.algo}, step ${result.step}) on ${result.dataset}`);
  console.log(`held-out action MSE ${result.action_mse.toPrecision(4)}${spread}  RMSE ${Math.sqrt(result.action_mse).toPrecision(4)}`);
  console.log(`${result.positions} positions in ${result.windows} windows of ${result.context_length} steps (${result.batches} × ${result.batch_size}), seed ${result.seed}`);
}
