import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { loadDataset } from '../../src/data/load.js';
import { readSafetensors } from '../../src/nn/checkpoint.js';
import { heldOutActionError } from '../../src/train/offline-eval.js';
import { POLICY_METADATA_KEY } from '../../src/deploy/policy-file.js';
import { ENV, smallMazeDataset, tempDir, TINY_DT } from './fixture.js';
import { camelCaseKeys } from '../../src/util/json-keys.js';

interface Result { status: number | null; stdout: string; stderr: string }

function stitch(...args: string[]): Result {
  // CI set: progress must come as plain lines, never a redrawn one
  return spawnSync(process.execPath, ['dist/src/cli/main.js', ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
}

const tinyDtFlags = Object.entries(TINY_DT).flatMap(([key, value]) => ['--set', `${key}=${JSON.stringify(value)}`]);

function readJsonLines(path: string): Array<Record<string, unknown>> {
  return readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('stitch train and stitch eval', () => {
  let dir: string;
  let dataset: string;
  let run: string;
  let trained: Result;
  before(async () => {
    dir = tempDir();
    dataset = await smallMazeDataset(dir);
    run = join(dir, 'run');
    trained = stitch('train', '--algo', 'dt', '--dataset', dataset, '--env', ENV, '--steps', '40', '--seed', '3',
      '--eval-every', '20', '--eval-episodes', '2', '--log-every', '10', '--checkpoint-every', '20', ...tinyDtFlags, '--out', run);
  });

  it('trains end to end and says where the report is', () => {
    assert.equal(trained.status, 0, trained.stderr);
    const escaped = (path: string): string => path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.match(trained.stdout, new RegExp(`results: ${escaped(join(run, 'eval.json'))}`));
    assert.match(trained.stdout, new RegExp(`report: ${escaped(join(run, 'report.html'))}`));
    assert.ok(existsSync(join(run, 'report.html')), 'training ends by writing the report');
    assert.match(trained.stderr, /^step +1\/40 .* steps\/s .*action_loss .* ETA/m);
    assert.match(trained.stderr, /^eval step 20 \(2 episodes\): target 60: .*, target 20: /m);
    assert.ok(!trained.stderr.includes('\r'), 'plain lines when CI is set');
  });

  it('config.json holds the full resolved config', () => {
    const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as Record<string, unknown> & { algorithm: Record<string, unknown> };
    assert.deepEqual(Object.keys(config).sort(), ['algo', 'algorithm', 'checkpointEvery', 'dataset', 'datasetId', 'env', 'evalEnvs', 'evalEpisodes', 'evalEvery', 'evalSeed', 'evalWorker', 'format', 'formatVersion', 'keepBest', 'logEvery', 'onNonFinite', 'preset', 'seed', 'steps']);
    assert.equal(config.keepBest, false);
    assert.equal(config.evalWorker, false);
    assert.equal(config.algo, 'dt');
    assert.equal(config.datasetId, ENV, 'from the file attributes');
    assert.equal(config.preset, ENV, 'the dataset id selects the preset');
    assert.equal(config.evalSeed, 3, 'defaults to the seed');
    // defaults <- preset (CORL's maze2d settings) <- --set overrides, and the run's step budget
    assert.equal(config.algorithm.init, 'corl');
    assert.equal(config.algorithm.lr, 8e-4);
    assert.equal(config.algorithm.width, 16);
    assert.equal(config.algorithm.batchSize, 8);
    assert.equal(config.algorithm.steps, 40);
    assert.equal(config.algorithm.weightDecay, 1e-4, 'schema default');
  });

  it('metrics.jsonl and metrics.csv hold the same records with every term', () => {
    const records = readJsonLines(join(run, 'metrics.jsonl'));
    assert.deepEqual(records.map((r) => r.step), [10, 20, 30, 40]);
    for (const record of records) {
      assert.deepEqual(Object.keys(record), ['step', 'time_s', 'action_loss', 'grad_norm', 'lr', 'steps_per_s']);
      for (const value of Object.values(record)) assert.ok(Number.isFinite(value));
    }
    assert.equal(records[3]!.lr, 8e-4, 'the learning rate at the logged step (warm-up over)');
    const [header, ...rows] = readFileSync(join(run, 'metrics.csv'), 'utf8').trim().split('\n');
    assert.equal(header, 'step,time_s,action_loss,grad_norm,lr,steps_per_s');
    assert.deepEqual(rows.map((row) => row.split(',').map(Number)), records.map((r) => Object.values(r)));
  });

  it('evaluations.jsonl and eval.json report last and best with per-condition results', () => {
    const evaluations = readJsonLines(join(run, 'evaluations.jsonl'));
    assert.deepEqual(evaluations.map((e) => e.step), [20, 40]);
    const report = JSON.parse(readFileSync(join(run, 'eval.json'), 'utf8')) as Record<string, unknown> & { last: Record<string, unknown> & { conditions: Array<Record<string, unknown>> }; best: Record<string, unknown> };
    // camelCase keys, as every JSON the CLI writes (docs/cli.md)
    for (const key of ['normalizedScore', 'normalizedStd', 'meanReturn', 'stdReturn', 'episodes', 'seed', 'last', 'best', 'headline', 'bestRule', 'policy']) assert.ok(key in report, key);
    assert.deepEqual(report.last, evaluations[1], 'last is the final evaluation');
    assert.equal(report.normalizedScore, report.last.normalizedScore);
    assert.equal(report.episodes, 2);
    assert.deepEqual(report.last.conditions.map((c) => [c.label, c.targetReturn]), [['target 60', 60], ['target 20', 20]]);
    assert.equal(report.last.normalizedScore, report.last.conditions[0]!.normalizedScore, 'the headline is the first condition');
    for (const condition of report.last.conditions) assert.equal((condition.returns as number[]).length, 2);
    const scores = evaluations.map((e) => e.normalizedScore as number);
    const bestIndex = scores.indexOf(Math.max(...scores));
    assert.deepEqual(report.best, evaluations[bestIndex], 'best: highest headline score, earliest on ties');
  });

  it('policy.safetensors carries its JSON header and the checkpoints are kept', () => {
    const file = readSafetensors(join(run, 'policy.safetensors'));
    const header = JSON.parse(file.metadata[POLICY_METADATA_KEY]!) as Record<string, unknown> & { context: Record<string, unknown> };
    assert.equal(header.format, 'stitch-policy');
    assert.equal(header.algo, 'dt');
    assert.equal(header.envId, ENV);
    assert.equal(header.datasetId, ENV);
    assert.equal(header.returnScale, 1);
    assert.equal(header.contextLength, 4);
    assert.equal(header.step, 40);
    assert.deepEqual(header.context.actionLow, [-1, -1]);
    assert.equal(header.context.maxEpisodeSteps, 300);
    assert.equal((header.context.stateMean as number[]).length, 4);
    assert.ok([...file.tensors.keys()].every((name) => name.startsWith('model.')));
    assert.ok(existsSync(join(run, 'checkpoints', 'step-00000020.safetensors')));
    assert.ok(existsSync(join(run, 'checkpoints', 'step-00000040.safetensors')));
  });

  it('stitch eval reproduces the final evaluation exactly, from the run or the policy file', () => {
    const last = (JSON.parse(readFileSync(join(run, 'eval.json'), 'utf8')) as { last: unknown }).last;
    const fromRun = stitch('eval', run, '--json');
    assert.equal(fromRun.status, 0, fromRun.stderr);
    assert.deepEqual(JSON.parse(fromRun.stdout), last);
    const fromFile = stitch('eval', join(run, 'policy.safetensors'), '--episodes', '2', '--seed', '3', '--json');
    assert.equal(fromFile.status, 0, fromFile.stderr);
    assert.deepEqual(JSON.parse(fromFile.stdout), last);
  });

  it('--keep-best keeps the best evaluation\'s weights as policy-best.safetensors, which stitch eval scores as the best record', () => {
    const best = join(dir, 'keep-best');
    // dense rewards, so every evaluation scores the weights; with seed 1 the best of steps 10-40 is step 30's
    const result = stitch('train', '--algo', 'dt', '--dataset', dataset, '--env', 'maze2d-umaze-dense-v1', '--steps', '40', '--seed', '1',
      '--eval-every', '10', '--eval-episodes', '3', '--checkpoint-every', '20', '--keep-best', ...tinyDtFlags, '--out', best);
    assert.equal(result.status, 0, result.stderr);
    const evaluation = JSON.parse(readFileSync(join(best, 'eval.json'), 'utf8')) as { best: { step: number; normalizedScore: number }; last: { step: number }; bestPolicy: string; policy: string };
    assert.equal(evaluation.bestPolicy, 'policy-best.safetensors');
    assert.notEqual(evaluation.best.step, evaluation.last.step, 'the case this test is for: a best before the end');
    assert.match(result.stdout, /best policy: .*policy-best\.safetensors \(scored on the episodes that selected it/);
    const header = (path: string): { step: number } => JSON.parse(readSafetensors(path).metadata[POLICY_METADATA_KEY] as string) as { step: number };
    assert.equal(header(join(best, 'policy-best.safetensors')).step, evaluation.best.step);
    assert.equal(header(join(best, 'policy.safetensors')).step, 40, 'policy.safetensors stays the last step\'s');
    // the kept weights are the evaluated ones: the same episodes give the best record exactly
    const rescored = stitch('eval', join(best, 'policy-best.safetensors'), '--seed', '1', '--eval-episodes', '3', '--json');
    assert.equal(rescored.status, 0, rescored.stderr);
    assert.deepEqual(JSON.parse(rescored.stdout), evaluation.best);
    // nothing of the intermediate best weights is left behind; the config says the run kept its best
    assert.deepEqual(readdirSync(join(best, 'checkpoints')).filter((name) => name.startsWith('best-')), []);
    assert.equal((JSON.parse(readFileSync(join(best, 'config.json'), 'utf8')) as { keepBest: boolean }).keepBest, true);
    // without the flag: no such file, and eval.json says so
    assert.ok(!existsSync(join(run, 'policy-best.safetensors')));
    assert.equal((JSON.parse(readFileSync(join(run, 'eval.json'), 'utf8')) as { bestPolicy: unknown }).bestPolicy, null);
    // the commands that ship a policy take --best: other weights, so another graph; a run without it is refused in one line
    const [last, chosen] = [join(dir, 'last.onnx'), join(dir, 'best.onnx')];
    assert.equal(stitch('export', 'onnx', best, '--out', last).status, 0);
    assert.equal(stitch('export', 'onnx', best, '--best', '--out', chosen).status, 0);
    assert.notDeepEqual(readFileSync(chosen), readFileSync(last));
    const refused = stitch('export', 'onnx', run, '--best', '--out', join(dir, 'none.onnx'));
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /no policy-best\.safetensors \(written when a run trained with --keep-best finishes\)/);
    assert.equal(refused.stderr.trim().split('\n').length, 1);
  });

  it('stitch eval --set changes an acting setting (the targets) and refuses a trained one in one line', () => {
    const result = stitch('eval', run, '--set', 'targetReturns=[7,3]', '--episodes', '2', '--json');
    assert.equal(result.status, 0, result.stderr);
    const record = JSON.parse(result.stdout) as { conditions: Array<{ label: string }> };
    assert.deepEqual(record.conditions.map((condition) => condition.label), ['target 7', 'target 3']);
    // the comma form a user types reads as the same list (a text value would be refused by the schema)
    const commas = stitch('eval', run, '--set', 'targetReturns=7, 3', '--episodes', '2', '--json');
    assert.equal(commas.status, 0, commas.stderr);
    assert.deepEqual(JSON.parse(commas.stdout), record);
    const cases: Array<[string[], RegExp]> = [
      [['eval', run, '--set', 'width=16'], /width: not an acting setting \(the weights were trained with it\); acting settings of a dt policy: targetReturns/],
      [['eval', run, '--set', 'targetReturns=[]'], /invalid acting setting: targetReturns/],
      [['eval', run, '--dataset', dataset, '--set', 'targetReturns=[7]'], /--set applies to evaluation in the environment/],
    ];
    for (const [args, message] of cases) {
      const bad = stitch(...args);
      assert.equal(bad.status, 2, `${args.join(' ')}: ${bad.stderr}`);
      assert.match(bad.stderr, message);
      assert.equal(bad.stderr.trim().split('\n').length, 1, `one line: ${bad.stderr}`);
    }
  });

  it('stitch eval RUN --dataset FILE --json prints the held-out action error, without an environment', async () => {
    const result = stitch('eval', run, '--dataset', dataset, '--batches', '5', '--seed', '2', '--json');
    assert.equal(result.status, 0, result.stderr);
    const printed = JSON.parse(result.stdout) as Record<string, unknown>;
    const policyPath = join(run, 'policy.safetensors');
    const expected = heldOutActionError(policyPath, (await loadDataset(dataset)).store, { batches: 5, seed: 2 });
    assert.deepEqual(printed, camelCaseKeys({ ...expected, dataset, policy: policyPath }));
    assert.equal(printed.windows, 40, '5 batches of the run\'s batchSize 8');
    const human = stitch('eval', run, '--dataset', dataset, '--batches', '5', '--seed', '2');
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`held-out action MSE ${expected.action_mse.toPrecision(4)} ± [0-9.e-]+ \\(standard error over 5 batches\\)`));
    const cases: Array<[string[], RegExp]> = [
      [['eval', run, '--dataset', join(dir, 'missing.hdf5')], /--dataset .*missing\.hdf5: no such file/],
      [['eval', run, '--dataset', dataset, '--episodes', '3'], /--episodes applies to evaluation in the environment/],
      [['eval', run, '--batches', '3'], /--batches applies to held-out evaluation; add --dataset FILE/],
      [['eval', run, '--dataset', dataset, '--batches', '0'], /--batches must be an integer >= 1/],
    ];
    for (const [args, message] of cases) {
      const bad = stitch(...args);
      assert.equal(bad.status, 2, `${args.join(' ')}: ${bad.stderr}`);
      assert.match(bad.stderr, message);
      assert.equal(bad.stderr.trim().split('\n').length, 1, `one line: ${bad.stderr}`);
    }
  });

  it('resuming a finished run rewrites the same report', () => {
    const before = readFileSync(join(run, 'eval.json'), 'utf8');
    const resumed = stitch('train', '--resume', run);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.equal(readFileSync(join(run, 'eval.json'), 'utf8'), before);
  });

  it('bad inputs give one-line errors and exit code 2, and never touch an existing run', () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const cases: Array<[string[], RegExp]> = [
      [['train', '--algo', 'dt', '--dataset', dataset, '--out', run], /already exists and is not empty; continue it with --resume/],
      [['train', '--algo', 'nope', '--dataset', dataset, '--out', join(dir, 'x1')], /unknown algorithm 'nope'; known: dt, reinformer/],
      [['train', '--algo', 'dt', '--dataset', dataset, '--env', 'moon-v0', '--out', join(dir, 'x2')], /unknown environment 'moon-v0'/],
      [['train', '--algo', 'dt', '--dataset', join(dir, 'missing.hdf5'), '--out', join(dir, 'x3')], /--dataset .*missing\.hdf5: no such file/],
      [['train', '--algo', 'dt', '--dataset', dataset, '--set', 'width=-4', '--out', join(dir, 'x4')], /invalid dt config: width: /],
      [['train', '--algo', 'dt', '--dataset', dataset, '--set', 'widht=4', '--out', join(dir, 'x5')], /invalid dt config: .*widht/],
      [['train', '--algo', 'dt', '--dataset', dataset, '--preset', 'hopper-v9', '--out', join(dir, 'x6')], /dt has no preset 'hopper-v9'/],
      [['train', '--algo', 'dt', '--dataset', dataset, '--steps', '0', '--out', join(dir, 'x7')], /--steps must be an integer >= 1/],
      // --steps may raise a resumed run's budget (issue 21), never lower it; other settings stay refused
      [['train', '--resume', run, '--steps', '20'], /--steps 20 is below the run's budget of 40; resuming can only raise it/],
      [['train', '--resume', run, '--seed', '4'], /--resume continues a run with its saved config; drop --seed/],
      [['train', '--resume', empty], /is not a Stitch run directory/],
      [['eval', join(dir, 'nothing')], /no such run directory or policy file/],
      [['eval', dataset], /not a Stitch policy file|header/],
    ];
    for (const [args, message] of cases) {
      const result = stitch(...args);
      assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split('\n').length, 1, `one line: ${result.stderr}`);
      assert.match(result.stderr, /^stitch: /);
    }
    for (const name of ['x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7']) assert.ok(!existsSync(join(dir, name)), `${name} was not created`);
  });

  it('a run directory whose config.json is a FIFO or /dev/zero is refused in one line, not waited on or read whole', () => {
    const dir = tempDir();
    for (const [name, make] of [['fifo', (path: string) => spawnSync('mkfifo', [path])], ['zero', (path: string) => symlinkSync('/dev/zero', path)]] as const) {
      const run = join(dir, name);
      mkdirSync(run);
      make(join(run, 'config.json'));
      const result = spawnSync(process.execPath, ['dist/src/cli/main.js', 'eval', run], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, CI: '1' } });
      assert.equal(result.status, 2, `${name}: ${result.stderr}`);
      assert.match(result.stderr, /^stitch: .*config\.json: not a regular file \(not a run config\)\n$/);
    }
  });
});
