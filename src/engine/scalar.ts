/**
 * A number computed where the data lives. On the CPU backends it is known at once; on a device
 * it is read back later (asynchronously), so a training step can queue its work without waiting
 * for the GPU, and the trainer reads the previous step's values while the next one runs.
 * Device scalars are made by scalar-board.ts.
 */
import type { Storage } from './storage.js';

export class Scalar {
  private constructor(
    private readonly value: number | undefined,
    private readonly reader: (() => Promise<number>) | undefined,
    /** the device array the value was computed in (a guard for kernels that must not run on a non-finite value) */
    readonly storage: Storage | undefined,
  ) {}

  /** a value the host already has */
  static of(value: number): Scalar {
    return new Scalar(value, undefined, undefined);
  }

  /** a value to read later; `reader` is called at most once */
  static later(reader: () => Promise<number>, storage?: Storage): Scalar {
    let pending: Promise<number> | undefined;
    return new Scalar(undefined, () => (pending ??= reader()), storage);
  }

  /** the value when the host has it now; undefined for a device value */
  get known(): number | undefined {
    return this.value;
  }

  async read(): Promise<number> {
    if (this.value !== undefined) return this.value;
    return this.reader!();
  }

  /** the value now; throws for a device value (use `await read()`) */
  get now(): number {
    if (this.value === undefined) throw new Error('this value lives on the device: read it with await scalar.read()');
    return this.value;
  }
}
