/**
 * CSV and JSONL logs, one transition per row/line, for users' own data (docs/data.md lists the
 * conventions). CSV columns: obs_<i>, action_<i>, reward, terminated (or terminal), truncated (or
 * timeout), optional episode, optional info.<name> or info.<name>.<i>. JSONL keys: observation,
 * action, reward, terminated, truncated, optional episode and info ({name: number | number[]}).
 *
 * Both are read as streams, record by record: a line longer than MAX_LINE_BYTES is refused
 * before it is assembled, and the columns count every byte they allocate against the memory
 * budget, so neither a 300 MB line nor a file larger than memory can exhaust the heap. CSV is
 * parsed by csv-parse (quoted fields, CRLF, a byte-order mark), a maintained streaming parser.
 */
import { createReadStream, renameSync, rmSync, writeFileSync } from 'node:fs';
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { basename, dirname, join } from 'node:path';
import { CsvError, parse as parseCsv } from 'csv-parse';
import { formatBytes, memoryBudgetBytes } from '../util/memory-budget.js';
import { validateArrayShapes } from './arrays.js';
import type { ReadOptions, TransitionArrays } from './arrays.js';
import { DataFileError } from './errors.js';
import { regularFileSize } from './files.js';
import type { Finding } from './findings.js';

/** The longest line (JSONL) or record (CSV) read: a row of 100,000 numbers fits easily. */
export const MAX_LINE_BYTES = 16 << 20;
/** The most columns a CSV line may have; far beyond any observation vector. */
export const MAX_CSV_COLUMNS = 65_536;

export interface TextReadResult {
  arrays: TransitionArrays;
  findings: Finding[];
}

/** Counts what the columns allocate and refuses to go past the memory budget. */
class MemoryMeter {
  private used = 0;
  constructor(
    private readonly budget: number,
    private readonly file: string,
  ) {}
  allocate(bytes: number): void {
    this.used += bytes;
    if (this.used > this.budget) throw new DataFileError(this.file, `its rows would take more than the memory budget of ${formatBytes(this.budget)} (half the memory limit of this machine or container)`);
  }
}

/** Growable typed column; doubles its capacity so a log of n rows costs O(n) copies. */
class Column<T extends Float32Array | Uint8Array> {
  private values: T;
  length = 0;
  constructor(
    private readonly make: (capacity: number) => T,
    private readonly meter: MemoryMeter,
    capacity = 1024,
  ) {
    meter.allocate(capacity * make(0).BYTES_PER_ELEMENT);
    this.values = make(capacity);
  }
  push(value: number): void {
    if (this.length === this.values.length) {
      this.meter.allocate(this.values.byteLength * 2);
      const grown = this.make(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }
  /** A view of the filled part; the spare capacity stays allocated, which the meter already counted. */
  finish(): T {
    return this.values.subarray(0, this.length) as T;
  }
}

const floats = (capacity: number): Float32Array => new Float32Array(capacity);
const bytes = (capacity: number): Uint8Array => new Uint8Array(capacity);

interface RowSink {
  observations: Column<Float32Array>;
  actions: Column<Float32Array>;
  rewards: Column<Float32Array>;
  terminals: Column<Uint8Array>;
  timeouts: Column<Uint8Array>;
  /** 1 where the row's episode id differs from the previous row's */
  newEpisode: Column<Uint8Array>;
  lastEpisode: string | undefined;
  rowsWithEpisode: number;
  infos: Map<string, { column: Column<Float32Array>; dim: number }>;
  meter: MemoryMeter;
}

function newSink(file: string, options: ReadOptions): RowSink {
  const meter = new MemoryMeter(options.memoryBudgetBytes ?? memoryBudgetBytes(), file);
  return {
    observations: new Column(floats, meter),
    actions: new Column(floats, meter),
    rewards: new Column(floats, meter),
    terminals: new Column(bytes, meter),
    timeouts: new Column(bytes, meter),
    newEpisode: new Column(bytes, meter),
    lastEpisode: undefined,
    rowsWithEpisode: 0,
    infos: new Map(),
    meter,
  };
}

function pushEpisode(sink: RowSink, episode: string | undefined): void {
  const changed = episode !== undefined && sink.lastEpisode !== undefined && episode !== sink.lastEpisode;
  sink.newEpisode.push(changed ? 1 : 0);
  if (episode !== undefined) {
    sink.lastEpisode = episode;
    sink.rowsWithEpisode++;
  }
}

function parseFlag(text: string, file: string, key: string, line: number): number {
  const value = text.trim().toLowerCase();
  if (value === '1' || value === 'true' || value === '1.0') return 1;
  if (value === '0' || value === 'false' || value === '0.0' || value === '') return 0;
  throw new DataFileError(file, `line ${line}: expected 0/1 or true/false, found ${JSON.stringify(text)}`, key);
}

/** Decimal numbers only: Number() would also read "0x10" as 16, "0b1" as 1 and "" as 0. */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function parseNumber(text: string, file: string, key: string, line: number): number {
  const trimmed = text.trim();
  if (DECIMAL.test(trimmed)) return Number(trimmed);
  const lowered = trimmed.toLowerCase();
  // NaN and infinities are kept so the health check can report them with their row.
  if (lowered === 'nan') return Number.NaN;
  if (lowered === 'inf' || lowered === 'infinity' || lowered === '+inf') return Number.POSITIVE_INFINITY;
  if (lowered === '-inf' || lowered === '-infinity') return Number.NEGATIVE_INFINITY;
  throw new DataFileError(file, `line ${line}: not a number: ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text)} (decimal notation only)`, key);
}

/**
 * Episodes end at a terminated/truncated row; with an episode column, a change of id also ends
 * the previous episode (read as truncated when it carried no flag, and reported).
 */
function finishArrays(sink: RowSink, obsDim: number, actionDim: number, file: string, findings: Finding[]): TextReadResult {
  if (obsDim < 1) throw new DataFileError(file, 'observations have no values per row', 'observation');
  if (actionDim < 1) throw new DataFileError(file, 'actions have no values per row', 'action');
  const terminals = sink.terminals.finish();
  const timeouts = sink.timeouts.finish();
  const newEpisode = sink.newEpisode.finish();
  let withoutEnd = 0;
  let firstWithoutEnd = -1;
  for (let i = 0; i + 1 < newEpisode.length; i++) {
    if (newEpisode[i + 1] === 1 && terminals[i] === 0 && timeouts[i] === 0) {
      timeouts[i] = 1;
      if (firstWithoutEnd < 0) firstWithoutEnd = i;
      withoutEnd++;
    }
  }
  if (withoutEnd > 0) {
    findings.push({ code: 'episode-without-end', severity: 'info', file, key: 'episode', index: firstWithoutEnd, count: withoutEnd, message: `${withoutEnd} episodes change id without a terminated/truncated flag; read as truncated` });
  }
  const arrays: TransitionArrays = { observations: sink.observations.finish(), actions: sink.actions.finish(), rewards: sink.rewards.finish(), terminals, timeouts, obsDim, actionDim };
  if (sink.infos.size > 0) arrays.infos = Object.fromEntries([...sink.infos].map(([name, info]) => [name, { data: info.column.finish(), dim: info.dim }]));
  return { arrays, findings };
}

/** A read failure of the stream as one line (permission denied, I/O error). */
function streamError(error: unknown, path: string): DataFileError {
  if (error instanceof DataFileError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  return new DataFileError(path, `cannot read the file (${code ?? (error instanceof Error ? error.message.split('\n')[0] : String(error))})`);
}

const tooLong = (path: string, line: number): DataFileError => new DataFileError(path, `line ${line} is longer than ${formatBytes(MAX_LINE_BYTES)}; refusing to read it (is this a text log of transitions?)`);

/** The lines of a regular file, streamed; a line longer than MAX_LINE_BYTES is refused before it is assembled. */
async function* streamLines(path: string): AsyncGenerator<{ text: string; line: number }> {
  regularFileSize(path);
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let line = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      for (let newline = chunk.indexOf(10, start); newline >= 0; newline = chunk.indexOf(10, start)) {
        const piece = chunk.subarray(start, newline);
        line++;
        if (pendingBytes + piece.length > MAX_LINE_BYTES) throw tooLong(path, line);
        const text = (pending.length === 0 ? piece : Buffer.concat([...pending, piece])).toString('utf8');
        pending = [];
        pendingBytes = 0;
        yield { text, line };
        start = newline + 1;
      }
      if (start < chunk.length) {
        pending.push(chunk.subarray(start));
        pendingBytes += chunk.length - start;
        if (pendingBytes > MAX_LINE_BYTES) throw tooLong(path, line + 1);
      }
    }
  } catch (error) {
    throw streamError(error, path);
  } finally {
    stream.destroy();
  }
  if (pendingBytes > 0) yield { text: Buffer.concat(pending).toString('utf8'), line: line + 1 };
}

function indexedColumns(header: string[], prefix: string): number[] {
  const pattern = new RegExp(`^${prefix}_\\d+$`);
  const found = header.map((name, column) => ({ name, column })).filter(({ name }) => pattern.test(name));
  found.sort((a, b) => Number(a.name.slice(prefix.length + 1)) - Number(b.name.slice(prefix.length + 1)));
  found.forEach(({ name }, i) => {
    if (name !== `${prefix}_${i}`) throw new DataFileError('', `columns ${prefix}_0..${prefix}_${found.length - 1} must all be present (missing ${prefix}_${i})`);
  });
  return found.map(({ column }) => column);
}

/** csv-parse's errors (unclosed quote, record too long) as one line naming the file and line. */
function csvError(error: unknown, path: string): DataFileError {
  if (error instanceof CsvError) {
    const line = typeof (error as CsvError & { lines?: unknown }).lines === 'number' ? (error as CsvError & { lines: number }).lines : undefined;
    if (error.code === 'CSV_MAX_RECORD_SIZE') return tooLong(path, line ?? 0);
    return new DataFileError(path, `${line === undefined ? '' : `line ${line}: `}${error.message.split('\n')[0]}`);
  }
  return streamError(error, path);
}

/**
 * Counts the commas of each physical line on the way to the parser and stops a line with more
 * than MAX_CSV_COLUMNS fields at once: csv-parse's cost grows faster than linearly with the
 * fields of one record (10^6 columns took minutes), so a wide line must not reach it whole.
 */
class FieldCountGuard extends Transform {
  private commas = 0;
  private line = 1;
  constructor(private readonly path: string) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let position = 0;
    while (position < chunk.length) {
      const comma = chunk.indexOf(44, position);
      const newline = chunk.indexOf(10, position);
      if (newline >= 0 && (comma < 0 || newline < comma)) {
        this.commas = 0;
        this.line++;
        position = newline + 1;
      } else if (comma >= 0) {
        if (++this.commas >= MAX_CSV_COLUMNS) {
          callback(new DataFileError(this.path, `line ${this.line} has more than ${MAX_CSV_COLUMNS} fields; refusing it (is this a transition log?)`, this.line === 1 ? 'header' : undefined));
          return;
        }
        position = comma + 1;
      } else {
        break;
      }
    }
    callback(null, chunk);
  }
}

interface CsvLayout {
  header: string[];
  observationColumns: number[];
  actionColumns: number[];
  rewardColumn: number;
  terminatedColumn: number;
  truncatedColumn: number;
  episodeColumn: number;
  infoColumns: Map<string, number[]>;
}

function csvLayout(header: string[], path: string, findings: Finding[]): CsvLayout {
  if (header.length > MAX_CSV_COLUMNS) throw new DataFileError(path, `the header has ${header.length} columns, more than ${MAX_CSV_COLUMNS}; refusing it (is this a transition log?)`, 'header');
  let observationColumns: number[];
  let actionColumns: number[];
  try {
    observationColumns = indexedColumns(header, 'obs');
    actionColumns = indexedColumns(header, 'action');
  } catch (error) {
    throw new DataFileError(path, error instanceof DataFileError ? error.problem : String(error), 'header');
  }
  const find = (...names: string[]): number => header.findIndex((name) => names.includes(name));
  const layout: CsvLayout = {
    header,
    observationColumns,
    actionColumns,
    rewardColumn: find('reward'),
    terminatedColumn: find('terminated', 'terminal'),
    truncatedColumn: find('truncated', 'timeout'),
    episodeColumn: find('episode'),
    infoColumns: new Map(),
  };
  if (observationColumns.length === 0 || actionColumns.length === 0 || layout.rewardColumn < 0 || layout.terminatedColumn < 0) {
    throw new DataFileError(path, 'the header needs obs_0.., action_0.., reward and terminated columns (see docs/data.md)', 'header');
  }
  header.forEach((name, column) => {
    const match = /^info\.([^.]+)(?:\.(\d+))?$/.exec(name);
    if (match === null) return;
    const columns = layout.infoColumns.get(match[1]!) ?? [];
    columns[Number(match[2] ?? 0)] = column;
    layout.infoColumns.set(match[1]!, columns);
  });
  for (const [name, columns] of layout.infoColumns) {
    const missing = Array.from(columns, (column, i) => (column === undefined ? i : -1)).find((i) => i >= 0);
    if (missing !== undefined) throw new DataFileError(path, `columns info.${name}.0..info.${name}.${columns.length - 1} must all be present (missing info.${name}.${missing})`, 'header');
  }
  const used = new Set([...observationColumns, ...actionColumns, layout.rewardColumn, layout.terminatedColumn, layout.truncatedColumn, layout.episodeColumn, ...[...layout.infoColumns.values()].flat()]);
  const unread = header.filter((_, column) => !used.has(column));
  if (unread.length > 0) {
    findings.push({
      code: 'info-dropped',
      severity: 'warning',
      file: path,
      key: 'header',
      index: -1,
      count: unread.length,
      message: `${unread.length} columns are not read: ${unread.slice(0, 5).map((name) => JSON.stringify(name)).join(', ')}${unread.length > 5 ? ', ...' : ''} (see docs/data.md for the column names)`,
    });
  }
  return layout;
}

export async function readCsv(path: string, options: ReadOptions = {}): Promise<TextReadResult> {
  regularFileSize(path);
  const findings: Finding[] = [];
  const sink = newSink(path, options);
  let layout: CsvLayout | undefined;
  const source = createReadStream(path, { highWaterMark: 1 << 20 });
  const guard = new FieldCountGuard(path);
  const parser = parseCsv({ bom: true, trim: true, skip_empty_lines: true, relax_column_count: true, max_record_size: MAX_LINE_BYTES, info: true });
  // pipe() does not forward errors; the guard's and the file's errors are passed to the parser so the loop below sees them.
  source.on('error', (error) => parser.destroy(error));
  guard.on('error', (error) => parser.destroy(error));
  source.pipe(guard).pipe(parser);
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const line = info.lines;
      if (layout === undefined) {
        layout = csvLayout(record, path, findings);
        for (const [name, columns] of layout.infoColumns) sink.infos.set(name, { column: new Column(floats, sink.meter), dim: columns.length });
        continue;
      }
      const { header } = layout;
      if (record.length !== header.length) throw new DataFileError(path, `line ${line}: ${record.length} fields, the header has ${header.length}`);
      for (const column of layout.observationColumns) sink.observations.push(parseNumber(record[column]!, path, header[column]!, line));
      for (const column of layout.actionColumns) sink.actions.push(parseNumber(record[column]!, path, header[column]!, line));
      sink.rewards.push(parseNumber(record[layout.rewardColumn]!, path, 'reward', line));
      sink.terminals.push(parseFlag(record[layout.terminatedColumn]!, path, 'terminated', line));
      sink.timeouts.push(layout.truncatedColumn < 0 ? 0 : parseFlag(record[layout.truncatedColumn]!, path, 'truncated', line));
      pushEpisode(sink, layout.episodeColumn >= 0 ? record[layout.episodeColumn] : undefined);
      for (const [name, columns] of layout.infoColumns) {
        const info = sink.infos.get(name)!;
        for (const column of columns) info.column.push(parseNumber(record[column]!, path, header[column]!, line));
      }
    }
  } catch (error) {
    throw csvError(error, path);
  } finally {
    source.destroy();
    parser.destroy();
  }
  if (layout === undefined) throw new DataFileError(path, 'empty file: the header needs obs_0.., action_0.., reward and terminated columns (see docs/data.md)', 'header');
  return finishArrays(sink, layout.observationColumns.length, layout.actionColumns.length, path, findings);
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

const JSONL_KEYS = new Set(['observation', 'obs', 'action', 'reward', 'terminated', 'terminal', 'truncated', 'timeout', 'episode', 'info']);

export async function readJsonl(path: string, options: ReadOptions = {}): Promise<TextReadResult> {
  const findings: Finding[] = [];
  const sink = newSink(path, options);
  let obsDim = -1;
  let actionDim = -1;
  const unknownKeys = new Map<string, number>();
  for await (const { text: raw, line } of streamLines(path)) {
    const text = raw.trim();
    if (text === '') continue;
    let record: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      record = parsed as Record<string, unknown>;
    } catch (error) {
      throw new DataFileError(path, `line ${line}: not a JSON object (${error instanceof Error ? error.message : String(error)})`);
    }
    const observation = numbers(record.observation ?? record.obs, path, 'observation', line);
    const action = numbers(record.action, path, 'action', line);
    if (obsDim < 0) {
      obsDim = observation.length;
      actionDim = action.length;
    }
    if (observation.length !== obsDim || action.length !== actionDim || record.reward === undefined) {
      throw new DataFileError(path, `line ${line}: needs observation (${obsDim} numbers), action (${actionDim} numbers) and reward`);
    }
    for (const key of Object.keys(record)) if (!JSONL_KEYS.has(key) && !unknownKeys.has(key)) unknownKeys.set(key, sink.rewards.length);
    for (const value of observation) sink.observations.push(value);
    for (const value of action) sink.actions.push(value);
    sink.rewards.push(numbers(record.reward, path, 'reward', line)[0]!);
    sink.terminals.push(flag(record.terminated ?? record.terminal, path, 'terminated', line));
    sink.timeouts.push(flag(record.truncated ?? record.timeout, path, 'truncated', line));
    pushEpisode(sink, record.episode === undefined ? undefined : String(record.episode));
    if (typeof record.info === 'object' && record.info !== null) {
      for (const [name, value] of Object.entries(record.info as Record<string, unknown>)) {
        const values = numbers(value, path, `info.${name}`, line);
        let info = sink.infos.get(name);
        if (info === undefined) {
          if (sink.rewards.length !== 1) throw new DataFileError(path, `line ${line}: info key ${name} first appears here; info keys must be on every line`, `info.${name}`);
          info = { column: new Column(floats, sink.meter), dim: values.length };
          sink.infos.set(name, info);
        }
        if (values.length !== info.dim) throw new DataFileError(path, `line ${line}: ${values.length} values, earlier lines have ${info.dim}`, `info.${name}`);
        for (const value of values) info.column.push(value);
      }
    }
  }
  if (obsDim < 0) throw new DataFileError(path, 'no transitions in the file');
  if (sink.rowsWithEpisode !== 0 && sink.rowsWithEpisode !== sink.rewards.length) throw new DataFileError(path, 'episode must be on every line or on none', 'episode');
  for (const [name, info] of sink.infos) {
    if (info.column.length !== sink.rewards.length * info.dim) throw new DataFileError(path, 'info keys must be on every line', `info.${name}`);
  }
  if (unknownKeys.size > 0) {
    const [first, index] = [...unknownKeys][0]!;
    findings.push({ code: 'info-dropped', severity: 'warning', file: path, key: first, index, count: unknownKeys.size, message: `${unknownKeys.size} keys are not read: ${[...unknownKeys.keys()].slice(0, 5).map((key) => JSON.stringify(key)).join(', ')} (see docs/data.md for the keys)` });
  }
  return finishArrays(sink, obsDim, actionDim, path, findings);
}

/** Episode number of every row, counting boundaries (rows after the last one share the next id). */
function episodeIds(arrays: TransitionArrays, n: number): Int32Array {
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

export function writeCsv(path: string, arrays: TransitionArrays): void {
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

export function writeJsonl(path: string, arrays: TransitionArrays): void {
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
