/** issue 21 item 12: TensorBoard event files (--tensorboard) and runs started from a config file (--config). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { crc32c, encodeEvent, FILE_VERSION, frameRecord, maskedCrc32c, readEventFile, TensorboardWriter } from '../../src/train/tensorboard.js';

const cli = join(process.cwd(), 'dist/src/cli/main.js');
const dataset = join(process.cwd(), 'test/fixtures/data/maze2d-tiny.hdf5');
const TINY = ['--set', 'width=16', '--set', 'layers=1', '--set', 'heads=1', '--set', 'mlpWidth=32', '--set', 'context=4', '--set', 'batchSize=8', '--set', 'warmupSteps=5', '--set', 'targetReturns=[60]'];

function stitch(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
}

const tinyRun = (out: string, ...extra: string[]) => stitch('train', '--algo', 'dt', '--dataset', dataset, '--env', 'maze2d-umaze-v1', '--steps', '20',
  '--eval-every', '10', '--eval-episodes', '1', '--eval-envs', '1', '--log-every', '5', ...TINY, '--out', out, ...extra);

describe('TensorBoard event files', () => {
  it('CRC32C gives the standard check value, and the mask is TFRecord\'s', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    const crc = crc32c(Buffer.from('123456789'));
    assert.equal(maskedCrc32c(Buffer.from('123456789')), ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0);
  });

  it('an Event with one scalar encodes to the protobuf wire bytes worked out by hand', () => {
    const bytes = Buffer.from(encodeEvent({ wallTime: 1.5, step: 3, scalars: [{ tag: 'loss', value: 0.25 }] }));
    const expected = Buffer.from([
      0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, // field 1, double 1.5
      0x10, 0x03, // field 2, varint step 3
      0x2a, 0x0d, // field 5 (summary), 13 bytes
      0x0a, 0x0b, // Summary field 1 (value), 11 bytes
      0x0a, 0x04, 0x6c, 0x6f, 0x73, 0x73, // Value.tag "loss"
      0x15, 0, 0, 0x80, 0x3e, // Value.simple_value float 0.25
    ]);
    assert.deepEqual(bytes, expected);
    const framed = frameRecord(bytes);
    assert.equal(framed.readBigUInt64LE(0), BigInt(bytes.length));
    assert.equal(framed.readUInt32LE(8), maskedCrc32c(framed.subarray(0, 8)));
    assert.equal(framed.readUInt32LE(12 + bytes.length), maskedCrc32c(bytes));
  });

  it('a written file reads back, starting with the file version; a flipped byte is caught', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stitch-tb-'));
    const writer = new TensorboardWriter(dir, () => 1_700_000_000_000);
    writer.addScalars(10, { 'train/loss': 0.5, 'train/lr': 1e-4, 'train/bad': Number.NaN }, 1_700_000_001);
    writer.addScalars(20, { 'train/loss': 0.25 }, 1_700_000_002);
    writer.close();
    assert.match(writer.path, /events\.out\.tfevents\.1700000000\./);
    const events = readEventFile(writer.path);
    assert.equal(events[0]?.fileVersion, FILE_VERSION);
    assert.deepEqual(events.slice(1).map((event) => [event.step, event.scalars.map((s) => s.tag)]), [[10, ['train/loss', 'train/lr']], [20, ['train/loss']]]);
    assert.equal(events[1]?.scalars[1]?.value, Math.fround(1e-4), 'float32, as TensorBoard stores simple values');
    const bytes = readFileSync(writer.path);
    bytes[bytes.length - 6] = (bytes[bytes.length - 6] as number) ^ 0xff;
    writeFileSync(writer.path, bytes);
    assert.throws(() => readEventFile(writer.path), /bad data checksum/);
  });

  it('stitch train --tensorboard writes every metrics record and evaluation of the run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stitch-tb-run-'));
    const run = join(dir, 'run');
    const board = join(dir, 'tb');
    const result = tinyRun(run, '--tensorboard', board);
    assert.equal(result.status, 0, result.stderr);
    const files = readdirSync(board);
    assert.equal(files.length, 1);
    assert.match(result.stdout, new RegExp(`^tensorboard: ${join(board, files[0] as string).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    const events = readEventFile(join(board, files[0] as string));
    const metrics = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, number>);
    const lossAt = new Map(events.flatMap((event) => event.scalars.filter((s) => s.tag === 'train/action_loss').map((s) => [event.step, s.value] as const)));
    assert.deepEqual([...lossAt.keys()], metrics.map((record) => record.step));
    for (const record of metrics) assert.equal(lossAt.get(record.step), Math.fround(record.action_loss as number));
    const evaluations = readFileSync(join(run, 'evaluations.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { step: number; normalizedScore: number });
    const scoreAt = new Map(events.flatMap((event) => event.scalars.filter((s) => s.tag === 'eval/normalized_score').map((s) => [event.step, s.value] as const)));
    assert.deepEqual([...scoreAt.entries()], evaluations.map((record) => [record.step, Math.fround(record.normalizedScore)]));
    assert.ok(events.some((event) => event.scalars.some((s) => s.tag === 'eval/target 60/normalized_score')), 'per condition too');
  });

  it('a run refused before it starts leaves no event file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stitch-tb-refused-'));
    writeFileSync(join(dir, 'occupied'), 'x');
    const refused = tinyRun(dir, '--tensorboard', join(dir, 'tb'));
    assert.equal(refused.status, 2);
    assert.ok(!existsSync(join(dir, 'tb')) || readdirSync(join(dir, 'tb')).length === 0);
    const notADirectory = tinyRun(join(dir, 'fresh'), '--tensorboard', join(dir, 'occupied'));
    assert.equal(notADirectory.status, 2);
    assert.match(notADirectory.stderr, /^stitch: --tensorboard .*occupied: not a directory$/m);
    assert.ok(!existsSync(join(dir, 'fresh')), 'nothing created');
  });
});

describe('stitch train --config', () => {
  it('a previous run\'s config.json starts the same run; a YAML file with a relative dataset and --seed changes only those', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stitch-config-'));
    const first = join(dir, 'first');
    assert.equal(tinyRun(first).status, 0);
    const again = join(dir, 'again');
    const repeated = stitch('train', '--config', join(first, 'config.json'), '--out', again);
    assert.equal(repeated.status, 0, repeated.stderr);
    assert.deepEqual(JSON.parse(readFileSync(join(again, 'config.json'), 'utf8')), JSON.parse(readFileSync(join(first, 'config.json'), 'utf8')));
    assert.equal(readFileSync(join(again, 'eval.json'), 'utf8'), readFileSync(join(first, 'eval.json'), 'utf8'), 'same config, same results');

    writeFileSync(join(dir, 'tiny.hdf5'), readFileSync(dataset));
    writeFileSync(join(dir, 'run.yaml'), [
      '# a hand-written config: the dataset path is relative to this file',
      'algo: dt',
      'dataset: tiny.hdf5',
      'env: maze2d-umaze-v1',
      'steps: 10',
      'evalEpisodes: 1',
      'evalEnvs: 1',
      'algorithm:',
      '  width: 16',
      '  layers: 1',
      '  heads: 1',
      '  mlpWidth: 32',
      '  context: 4',
      '  batchSize: 8',
      '  targetReturns: [60]',
      '',
    ].join('\n'));
    const fromYaml = join(dir, 'yaml');
    const started = spawnSync(process.execPath, [cli, 'train', '--config', 'run.yaml', '--seed', '1', '--set', 'width=8', '--out', fromYaml], { encoding: 'utf8', cwd: dir, env: { ...process.env, CI: '1' } });
    assert.equal(started.status, 0, started.stderr);
    const config = JSON.parse(readFileSync(join(fromYaml, 'config.json'), 'utf8')) as { dataset: string; seed: number; evalSeed: number; steps: number; algorithm: { width: number; layers: number } };
    assert.equal(config.dataset, join(dir, 'tiny.hdf5'));
    assert.deepEqual([config.seed, config.evalSeed, config.steps, config.algorithm.width, config.algorithm.layers], [1, 1, 10, 8, 1], 'flags win over the file');
  });

  it('a bad config file is one line, exit 2, and nothing is created', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stitch-config-bad-'));
    writeFileSync(join(dir, 'typo.yaml'), 'algo: dt\nsteps: 10\nwidht: 16\n');
    const out = join(dir, 'never');
    const typo = stitch('train', '--config', join(dir, 'typo.yaml'), '--out', out);
    assert.equal(typo.status, 2);
    assert.match(typo.stderr, /^stitch: --config .*typo\.yaml: Unrecognized key: "widht" \(did you mean \w+\? algorithm fields go under algorithm:\)$/m);
    writeFileSync(join(dir, 'broken.json'), '{"algo": "dt",');
    const broken = stitch('train', '--config', join(dir, 'broken.json'), '--out', out);
    assert.equal(broken.status, 2);
    assert.match(broken.stderr, /not valid JSON or YAML/);
    assert.equal(broken.stderr.trim().split('\n').length, 1);
    assert.equal(stitch('train', '--config', join(dir, 'missing.yaml')).status, 2);
    assert.ok(!existsSync(out));
  });
});
