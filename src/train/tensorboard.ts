/**
 * TensorBoard event files for a run (`stitch train --tensorboard DIR`), so the tool people already
 * use shows Stitch's curves. No maintained writer fits Node without native code or Python, so
 * this is a small one: the Event and Summary messages are encoded with protobufjs (from a
 * reflection definition of the few fields used, tensorflow/core/util/event.proto and
 * framework/summary.proto), each record framed as TFRecord does (length, masked CRC32C of the
 * length, data, masked CRC32C of the data). CRC32C is the 256-entry table algorithm written out
 * here: the npm packages for it pull the AWS SDK's type packages or native code for 15 lines.
 * `readEventFile` reads a file back, checking every checksum (the tests use it).
 *
 * `TensorboardMirror` follows a run directory's metrics.jsonl and evaluations.jsonl and writes
 * every complete record it has not written yet, so what TensorBoard shows is what the run's files
 * hold (a resumed run writes a new event file; TensorBoard drops the orphaned steps itself).
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { EVALUATIONS_JSONL, METRICS_JSONL } from './metrics.js';

const root = protobuf.Root.fromJSON({
  nested: {
    tensorboard: {
      nested: {
        Event: {
          fields: {
            wallTime: { type: 'double', id: 1 },
            step: { type: 'int64', id: 2 },
            fileVersion: { type: 'string', id: 3 },
            summary: { type: 'Summary', id: 5 },
          },
        },
        Summary: {
          fields: { value: { rule: 'repeated', type: 'Value', id: 1 } },
          nested: { Value: { fields: { tag: { type: 'string', id: 1 }, simpleValue: { type: 'float', id: 2 } } } },
        },
      },
    },
  },
});
const EventMessage = root.lookupType('tensorboard.Event');

/** what TensorBoard's loader expects as the first event of a file */
export const FILE_VERSION = 'brain.Event:2';

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1; // Castagnoli, reflected
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (CRC32C_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15 and add a constant */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** one TFRecord: uint64 length, masked CRC of those 8 bytes, the data, masked CRC of the data (little-endian) */
export function frameRecord(data: Uint8Array): Buffer {
  const header = Buffer.alloc(8);
  header.writeBigUInt64LE(BigInt(data.length));
  const record = Buffer.alloc(data.length + 16);
  header.copy(record, 0);
  record.writeUInt32LE(maskedCrc32c(header), 8);
  record.set(data, 12);
  record.writeUInt32LE(maskedCrc32c(data), data.length + 12);
  return record;
}

export interface ScalarEvent {
  wallTime: number;
  step: number;
  /** absent in the file-version event */
  scalars: Array<{ tag: string; value: number }>;
  fileVersion?: string;
}

export function encodeEvent(event: ScalarEvent): Uint8Array {
  const message = EventMessage.fromObject({
    wallTime: event.wallTime,
    step: event.step,
    ...(event.fileVersion === undefined ? {} : { fileVersion: event.fileVersion }),
    ...(event.scalars.length === 0 ? {} : { summary: { value: event.scalars.map(({ tag, value }) => ({ tag, simpleValue: value })) } }),
  });
  return EventMessage.encode(message).finish();
}

/** Reads an event file back, refusing a bad length or data checksum. */
export function readEventFile(path: string): ScalarEvent[] {
  const bytes = readFileSync(path);
  const events: ScalarEvent[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (offset + 12 > bytes.length) throw new Error(`${path}: torn record header at byte ${offset}`);
    const lengthBytes = bytes.subarray(offset, offset + 8);
    if (bytes.readUInt32LE(offset + 8) !== maskedCrc32c(lengthBytes)) throw new Error(`${path}: bad length checksum at byte ${offset}`);
    const length = Number(bytes.readBigUInt64LE(offset));
    const data = bytes.subarray(offset + 12, offset + 12 + length);
    if (data.length !== length || offset + 16 + length > bytes.length) throw new Error(`${path}: torn record at byte ${offset}`);
    if (bytes.readUInt32LE(offset + 12 + length) !== maskedCrc32c(data)) throw new Error(`${path}: bad data checksum at byte ${offset}`);
    const decoded = EventMessage.toObject(EventMessage.decode(data), { longs: Number }) as {
      wallTime?: number; step?: number; fileVersion?: string; summary?: { value?: Array<{ tag?: string; simpleValue?: number }> };
    };
    events.push({
      wallTime: decoded.wallTime ?? 0,
      step: decoded.step ?? 0,
      scalars: (decoded.summary?.value ?? []).map((value) => ({ tag: value.tag ?? '', value: value.simpleValue ?? 0 })),
      ...(decoded.fileVersion === undefined ? {} : { fileVersion: decoded.fileVersion }),
    });
    offset += 16 + length;
  }
  return events;
}

/** An event file in `dir`, named as TensorBoard finds them (events.out.tfevents.TIME.HOST). */
export class TensorboardWriter {
  readonly path: string;
  private fd: number | null;

  constructor(dir: string, now: () => number = Date.now) {
    mkdirSync(dir, { recursive: true });
    const seconds = now() / 1000;
    // the pid keeps two writers started in the same second apart
    this.path = join(dir, `events.out.tfevents.${Math.floor(seconds)}.${hostname()}.${process.pid}.stitch`);
    this.fd = openSync(this.path, 'a');
    this.write({ wallTime: seconds, step: 0, scalars: [], fileVersion: FILE_VERSION });
  }

  private write(event: ScalarEvent): void {
    if (this.fd === null) throw new Error(`${this.path}: the writer is closed`);
    writeSync(this.fd, frameRecord(encodeEvent(event)));
  }

  /** one event holding every finite scalar of a step (non-finite values have no place in a chart) */
  addScalars(step: number, scalars: Record<string, number>, wallTime = Date.now() / 1000): void {
    const values = Object.entries(scalars).filter(([, value]) => Number.isFinite(value)).map(([tag, value]) => ({ tag, value }));
    if (values.length > 0) this.write({ wallTime, step, scalars: values });
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** train/<term> for every number of a metrics record but its step */
export function metricsScalars(record: Record<string, unknown>): Record<string, number> {
  const scalars: Record<string, number> = {};
  for (const [key, value] of Object.entries(record)) if (key !== 'step' && typeof value === 'number') scalars[`train/${key}`] = value;
  return scalars;
}

const numberField = (record: Record<string, unknown>, camel: string, snake: string): number | undefined => {
  const value = record[camel] ?? record[snake];
  return typeof value === 'number' ? value : undefined;
};

/**
 * eval/normalized_score and eval/mean_return of the headline, and the same per condition
 * (eval/<label>/...), from an evaluations.jsonl record (either key spelling).
 */
export function evaluationScalars(record: Record<string, unknown>): Record<string, number> {
  const scalars: Record<string, number> = {};
  const put = (prefix: string, source: Record<string, unknown>): void => {
    const normalized = numberField(source, 'normalizedScore', 'normalized_score');
    const meanReturn = numberField(source, 'meanReturn', 'mean_return');
    if (normalized !== undefined) scalars[`${prefix}/normalized_score`] = normalized;
    if (meanReturn !== undefined) scalars[`${prefix}/mean_return`] = meanReturn;
  };
  put('eval', record);
  const conditions = Array.isArray(record.conditions) ? record.conditions : [];
  for (const condition of conditions) if (isObject(condition) && typeof condition.label === 'string') put(`eval/${condition.label}`, condition);
  return scalars;
}

/** Writes the records of a run's logs into TensorBoard event files as they appear. */
export class TensorboardMirror {
  /** created by the first sync, so a run refused before it starts leaves no event file */
  private writer: TensorboardWriter | null = null;
  /** complete lines already written, per log file */
  private readonly consumed = new Map<string, number>();

  constructor(private readonly runDir: string, private readonly tensorboardDir: string) {}

  /** the event file, null before the first sync */
  get path(): string | null {
    return this.writer?.path ?? null;
  }

  /** writes the complete records added since the last call */
  sync(): void {
    this.writer ??= new TensorboardWriter(this.tensorboardDir);
    this.follow(this.writer, METRICS_JSONL, metricsScalars);
    this.follow(this.writer, EVALUATIONS_JSONL, evaluationScalars);
  }

  private follow(writer: TensorboardWriter, name: string, toScalars: (record: Record<string, unknown>) => Record<string, number>): void {
    let text: string;
    try {
      text = readFileSync(join(this.runDir, name), 'utf8');
    } catch {
      return; // not written yet
    }
    // only lines ending in a newline are complete; a torn last line is read next time
    const lines = text.split('\n').slice(0, -1);
    const done = this.consumed.get(name) ?? 0;
    // a resumed run truncates its logs: start over from the top of the shorter file
    const from = lines.length < done ? 0 : done;
    for (const line of lines.slice(from)) {
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        continue;
      }
      if (isObject(record) && typeof record.step === 'number') writer.addScalars(record.step, toScalars(record));
    }
    this.consumed.set(name, lines.length);
  }

  /** the last records, then the file is closed; nothing when the run never started */
  close(): void {
    if (this.writer === null) return;
    this.sync();
    this.writer.close();
  }
}
