/**
 * CSV and JSONL logs, one transition per row/line, for users' own data (docs/data.md lists the
 * conventions). CSV columns: obs_<i>, action_<i>, reward, terminated (or terminal), truncated (or
 * timeout), optional episode, optional info.<name> or info.<name>.<i>. JSONL keys: observation,
 * action, reward, terminated, truncated, optional episode and info ({name: number | number[]}).
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DataFileError } from './errors.js';
import type { Finding } from './findings.js';
import { validateArrayShapes } from './hdf5.js';
import type { D4rlArrays } from './hdf5.js';

export interface TextReadResult {
  arrays: D4rlArrays;
  findings: Finding[];
}

/** Growable float32 column; doubles its capacity so a log of n rows costs O(n) copies. */
class Column {
  private values: Float32Array;
  length = 0;
  constructor(capacity = 1024) {
    this.values = new Float32Array(capacity);
  }
  push(value: number): void {
    if (this.length === this.values.length) {
      const grown = new Float32Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }
  finish(): Float32Array {
    return this.values.slice(0, this.length);
  }
}

interface RowSink {
  observations: Column;
  actions: Column;
  rewards: Column;
  terminals: number[];
  timeouts: number[];
  episodes: string[];
  infos: Map<string, { column: Column; dim: number }>;
}

function newSink(): RowSink {
  return { observations: new Column(), actions: new Column(), rewards: new Column(), terminals: [], timeouts: [], episodes: [], infos: new Map() };
}

function parseFlag(text: string, file: string, key: string, line: number): number {
  const value = text.trim().toLowerCase();
  if (value === '1' || value === 'true' || value === '1.0') return 1;
  if (value === '0' || value === 'false' || value === '0.0' || value === '') return 0;
  throw new DataFileError(file, `line ${line}: expected 0/1 or true/false, found ${JSON.stringify(text)}`, key);
}

function parseNumber(text: string, file: string, key: string, line: number): number {
  const trimmed = text.trim();
  const lowered = trimmed.toLowerCase();
  // NaN and infinities are kept so the health check can report them with their row.
  if (lowered === 'nan') return Number.NaN;
  if (lowered === 'inf' || lowered === 'infinity' || lowered === '+inf') return Number.POSITIVE_INFINITY;
  if (lowered === '-inf' || lowered === '-infinity') return Number.NEGATIVE_INFINITY;
  const value = Number(trimmed);
  if (trimmed === '' || Number.isNaN(value)) throw new DataFileError(file, `line ${line}: not a number: ${JSON.stringify(text)}`, key);
  return value;
}

/**
 * Episodes end at a terminated/truncated row; with an episode column, a change of id also ends
 * the previous episode (read as truncated when it carried no flag, and reported).
 */
function finishArrays(sink: RowSink, obsDim: number, actionDim: number, file: string): TextReadResult {
  const findings: Finding[] = [];
  const terminals = Uint8Array.from(sink.terminals);
  const timeouts = Uint8Array.from(sink.timeouts);
  let withoutEnd = 0;
  let firstWithoutEnd = -1;
  for (let i = 0; i + 1 < sink.episodes.length; i++) {
    if (sink.episodes[i] !== sink.episodes[i + 1] && terminals[i] === 0 && timeouts[i] === 0) {
      timeouts[i] = 1;
      if (firstWithoutEnd < 0) firstWithoutEnd = i;
      withoutEnd++;
    }
  }
  if (withoutEnd > 0) {
    findings.push({ code: 'episode-without-end', severity: 'info', file, key: 'episode', index: firstWithoutEnd, count: withoutEnd, message: `${withoutEnd} episodes change id without a terminated/truncated flag; read as truncated` });
  }
  const arrays: D4rlArrays = { observations: sink.observations.finish(), actions: sink.actions.finish(), rewards: sink.rewards.finish(), terminals, timeouts, obsDim, actionDim };
  if (sink.infos.size > 0) arrays.infos = Object.fromEntries([...sink.infos].map(([name, info]) => [name, { data: info.column.finish(), dim: info.dim }]));
  return { arrays, findings };
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new DataFileError(path, 'cannot read the file (does it exist?)');
  }
}

function indexedColumns(header: string[], prefix: string): number[] {
  const found = header.map((name, column) => ({ name, column })).filter(({ name }) => new RegExp(`^${prefix}_\\d+$`).test(name));
  found.sort((a, b) => Number(a.name.slice(prefix.length + 1)) - Number(b.name.slice(prefix.length + 1)));
  found.forEach(({ name }, i) => {
    if (name !== `${prefix}_${i}`) throw new DataFileError('', `columns ${prefix}_0..${prefix}_${found.length - 1} must all be present (missing ${prefix}_${i})`);
  });
  return found.map(({ column }) => column);
}

export function readCsv(path: string): TextReadResult {
  const lines = readText(path).split(/\r?\n/);
  const header = (lines[0] ?? '').split(',').map((name) => name.trim());
  let observationColumns: number[];
  let actionColumns: number[];
  try {
    observationColumns = indexedColumns(header, 'obs');
    actionColumns = indexedColumns(header, 'action');
  } catch (error) {
    throw new DataFileError(path, error instanceof DataFileError ? error.problem : String(error), 'header');
  }
  const find = (...names: string[]): number => header.findIndex((name) => names.includes(name));
  const rewardColumn = find('reward');
  const terminatedColumn = find('terminated', 'terminal');
  const truncatedColumn = find('truncated', 'timeout');
  const episodeColumn = find('episode');
  if (observationColumns.length === 0 || actionColumns.length === 0 || rewardColumn < 0 || terminatedColumn < 0) {
    throw new DataFileError(path, 'the header needs obs_0.., action_0.., reward and terminated columns (see docs/data.md)', 'header');
  }
  const infoColumns = new Map<string, number[]>();
  header.forEach((name, column) => {
    const match = /^info\.([^.]+)(?:\.(\d+))?$/.exec(name);
    if (match === null) return;
    const columns = infoColumns.get(match[1]!) ?? [];
    columns[Number(match[2] ?? 0)] = column;
    infoColumns.set(match[1]!, columns);
  });
  const sink = newSink();
  for (const [name, columns] of infoColumns) sink.infos.set(name, { column: new Column(), dim: columns.length });
  for (let l = 1; l < lines.length; l++) {
    const text = lines[l]!;
    if (text.trim() === '') continue;
    const cells = text.split(',');
    if (cells.length !== header.length) throw new DataFileError(path, `line ${l + 1}: ${cells.length} fields, the header has ${header.length}`);
    for (const column of observationColumns) sink.observations.push(parseNumber(cells[column]!, path, header[column]!, l + 1));
    for (const column of actionColumns) sink.actions.push(parseNumber(cells[column]!, path, header[column]!, l + 1));
    sink.rewards.push(parseNumber(cells[rewardColumn]!, path, 'reward', l + 1));
    sink.terminals.push(parseFlag(cells[terminatedColumn]!, path, 'terminated', l + 1));
    sink.timeouts.push(truncatedColumn < 0 ? 0 : parseFlag(cells[truncatedColumn]!, path, 'truncated', l + 1));
    if (episodeColumn >= 0) sink.episodes.push(cells[episodeColumn]!.trim());
    for (const [name, columns] of infoColumns) {
      const info = sink.infos.get(name)!;
      for (const column of columns) info.column.push(parseNumber(cells[column]!, path, header[column]!, l + 1));
    }
  }
  return finishArrays(sink, observationColumns.length, actionColumns.length, path);
}

function numbers(value: unknown, file: string, key: string, line: number): number[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((item) => {
    if (typeof item === 'number') return item;
    if (item === null || typeof item === 'string') return parseNumber(String(item), file, key, line);
    throw new DataFileError(file, `line ${line}: expected numbers`, key);
  });
}

function flag(value: unknown, file: string, key: string, line: number): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return parseFlag(String(value), file, key, line);
}

export function readJsonl(path: string): TextReadResult {
  const lines = readText(path).split(/\r?\n/);
  const sink = newSink();
  let obsDim = -1;
  let actionDim = -1;
  for (let l = 0; l < lines.length; l++) {
    const text = lines[l]!.trim();
    if (text === '') continue;
    let record: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      record = parsed as Record<string, unknown>;
    } catch (error) {
      throw new DataFileError(path, `line ${l + 1}: not a JSON object (${error instanceof Error ? error.message : String(error)})`);
    }
    const observation = numbers(record.observation ?? record.obs, path, 'observation', l + 1);
    const action = numbers(record.action, path, 'action', l + 1);
    if (obsDim < 0) {
      obsDim = observation.length;
      actionDim = action.length;
    }
    if (observation.length !== obsDim || action.length !== actionDim || record.reward === undefined) {
      throw new DataFileError(path, `line ${l + 1}: needs observation (${obsDim} numbers), action (${actionDim} numbers) and reward`);
    }
    for (const value of observation) sink.observations.push(value);
    for (const value of action) sink.actions.push(value);
    sink.rewards.push(numbers(record.reward, path, 'reward', l + 1)[0]!);
    sink.terminals.push(flag(record.terminated ?? record.terminal, path, 'terminated', l + 1));
    sink.timeouts.push(flag(record.truncated ?? record.timeout, path, 'truncated', l + 1));
    if (record.episode !== undefined) sink.episodes.push(String(record.episode));
    if (typeof record.info === 'object' && record.info !== null) {
      for (const [name, value] of Object.entries(record.info as Record<string, unknown>)) {
        const values = numbers(value, path, `info.${name}`, l + 1);
        let info = sink.infos.get(name);
        if (info === undefined) {
          if (sink.rewards.length !== 1) throw new DataFileError(path, `line ${l + 1}: info key ${name} first appears here; info keys must be on every line`, `info.${name}`);
          info = { column: new Column(), dim: values.length };
          sink.infos.set(name, info);
        }
        if (values.length !== info.dim) throw new DataFileError(path, `line ${l + 1}: ${values.length} values, earlier lines have ${info.dim}`, `info.${name}`);
        for (const value of values) info.column.push(value);
      }
    }
  }
  if (obsDim < 0) throw new DataFileError(path, 'no transitions in the file');
  if (sink.episodes.length !== 0 && sink.episodes.length !== sink.rewards.length) throw new DataFileError(path, 'episode must be on every line or on none', 'episode');
  for (const [name, info] of sink.infos) {
    if (info.column.length !== sink.rewards.length * info.dim) throw new DataFileError(path, 'info keys must be on every line', `info.${name}`);
  }
  return finishArrays(sink, obsDim, actionDim, path);
}

/** Episode number of every row, counting boundaries (rows after the last one share the next id). */
function episodeIds(arrays: D4rlArrays, n: number): Int32Array {
  const ids = new Int32Array(n);
  let episode = 0;
  for (let i = 0; i < n; i++) {
    ids[i] = episode;
    if (arrays.terminals[i] !== 0 || arrays.timeouts[i] !== 0) episode++;
  }
  return ids;
}

function writeAtomically(path: string, text: string): void {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(temporary, text);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

const formatNumber = (value: number): string => (Number.isNaN(value) ? 'nan' : value === Number.POSITIVE_INFINITY ? 'inf' : value === Number.NEGATIVE_INFINITY ? '-inf' : String(value));

export function writeCsv(path: string, arrays: D4rlArrays): void {
  const n = validateArrayShapes(arrays);
  const infos = Object.entries(arrays.infos ?? {});
  const header = [
    'episode',
    ...Array.from({ length: arrays.obsDim }, (_, i) => `obs_${i}`),
    ...Array.from({ length: arrays.actionDim }, (_, i) => `action_${i}`),
    'reward',
    'terminated',
    'truncated',
    ...infos.flatMap(([name, info]) => (info.dim === 1 ? [`info.${name.replaceAll('/', '_')}`] : Array.from({ length: info.dim }, (_, i) => `info.${name.replaceAll('/', '_')}.${i}`))),
  ];
  const ids = episodeIds(arrays, n);
  const lines = [header.join(',')];
  for (let i = 0; i < n; i++) {
    const cells: string[] = [String(ids[i])];
    for (let d = 0; d < arrays.obsDim; d++) cells.push(formatNumber(arrays.observations[i * arrays.obsDim + d]!));
    for (let d = 0; d < arrays.actionDim; d++) cells.push(formatNumber(arrays.actions[i * arrays.actionDim + d]!));
    cells.push(formatNumber(arrays.rewards[i]!), String(arrays.terminals[i]), String(arrays.timeouts[i]));
    for (const [, info] of infos) for (let d = 0; d < info.dim; d++) cells.push(formatNumber(info.data[i * info.dim + d]!));
    lines.push(cells.join(','));
  }
  writeAtomically(path, `${lines.join('\n')}\n`);
}

export function writeJsonl(path: string, arrays: D4rlArrays): void {
  const n = validateArrayShapes(arrays);
  const ids = episodeIds(arrays, n);
  const infos = Object.entries(arrays.infos ?? {});
  // JSON has no NaN or Infinity: those become strings the reader parses back.
  const value = (x: number): number | string => (Number.isFinite(x) ? x : formatNumber(x));
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const record: Record<string, unknown> = {
      episode: ids[i],
      observation: Array.from(arrays.observations.subarray(i * arrays.obsDim, (i + 1) * arrays.obsDim), value),
      action: Array.from(arrays.actions.subarray(i * arrays.actionDim, (i + 1) * arrays.actionDim), value),
      reward: value(arrays.rewards[i]!),
      terminated: arrays.terminals[i] !== 0,
      truncated: arrays.timeouts[i] !== 0,
    };
    if (infos.length > 0) record.info = Object.fromEntries(infos.map(([name, info]) => [name, info.dim === 1 ? value(info.data[i]!) : Array.from(info.data.subarray(i * info.dim, (i + 1) * info.dim), value)]));
    lines.push(JSON.stringify(record));
  }
  writeAtomically(path, `${lines.join('\n')}\n`);
}
