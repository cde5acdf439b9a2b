/**
 * Device scalars are copied into a board: one small device array per training step that every
 * scalar of the step lands in, so reading a step's logged values is one transfer, not one per value.
 */
import type { Storage, TensorBackend } from './backend.js';
import { Scalar } from './scalar.js';

/** how many scalars one board holds before the next one starts */
const BOARD_SLOTS = 64;

class ScalarBoard {
  private readonly storage: Storage;
  private used = 0;
  private values: Promise<Float32Array | Float64Array> | null = null;
  private dropped = false;

  constructor(readonly backend: TensorBackend) {
    this.storage = backend.allocate(BOARD_SLOTS);
  }

  /** true once nothing more can be added: full, or being read */
  get closed(): boolean {
    return this.used === BOARD_SLOTS || this.values !== null;
  }

  capture(source: Storage, index: number): Scalar {
    const slot = this.used++;
    this.backend.copyBlocks(source, this.storage, { count: 1, width: 1, srcOffset: index, srcStride: 1, dstOffset: slot, dstStride: 1 }, false);
    return Scalar.later(async () => (await this.read())[slot]!, source);
  }

  /** frees the board's array when nothing was read from it (its scalars can no longer be read) */
  dropUnread(): void {
    if (this.values !== null || this.dropped) return;
    this.dropped = true;
    this.backend.release(this.storage);
  }

  private read(): Promise<Float32Array | Float64Array> {
    if (this.dropped) return Promise.reject(new Error('this step\'s values were not read before the next step started (read them at most one step later)'));
    this.values ??= this.backend.read(this.storage, this.used).then((values) => {
      this.backend.release(this.storage);
      return values;
    });
    return this.values;
  }
}

let board: ScalarBoard | null = null;

/**
 * Element `index` of a device array as a Scalar, copied (in queue order) into the current board,
 * so the source may be reused afterwards.
 */
export function captureScalar(backend: TensorBackend, source: Storage, index = 0): Scalar {
  if (board === null || board.closed || board.backend !== backend) board = new ScalarBoard(backend);
  return board.capture(source, index);
}

/** Starts a new board before each training step (one read brings a step's values back) and frees the board of two steps ago if nobody read it. */
export class ScalarBoards {
  private previous: ScalarBoard | null = null;

  /** call before each step: the board of two steps ago is freed if unread, the current one kept for reading */
  next(): void {
    this.previous?.dropUnread();
    this.previous = board;
    board = null;
  }
}
