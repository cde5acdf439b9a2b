/**
 * The one seeded random number generator threaded through sampling, dropout, initialization
 * and evaluation. xoshiro128** (small state, fast in 32-bit integer arithmetic, good quality);
 * seeded through splitmix32 so that nearby seeds give unrelated streams. Its state can be saved
 * and restored exactly, which is what makes resumed training identical to uninterrupted training.
 */

function splitmix32(state: { x: number }): number {
  state.x = (state.x + 0x9e3779b9) >>> 0;
  let z = state.x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** second value of the last Box-Muller pair, NaN when none is cached */
  private spareNormal = Number.NaN;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`Rng seed must be a finite number (got ${seed})`);
    const mixer = { x: (Math.trunc(seed) ^ Math.trunc(seed / 0x100000000)) >>> 0 };
    this.s0 = splitmix32(mixer);
    this.s1 = splitmix32(mixer);
    this.s2 = splitmix32(mixer);
    this.s3 = splitmix32(mixer);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** uniform in [0, 1) with 53 random bits */
  uniform(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** standard normal (Box-Muller; the second value of each pair is kept for the next call) */
  normal(): number {
    if (!Number.isNaN(this.spareNormal)) {
      const value = this.spareNormal;
      this.spareNormal = Number.NaN;
      return value;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  }

  /** uniform integer in [0, n), unbiased (rejection sampling) */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x100000000) throw new RangeError(`Rng.int needs an integer in [1, 2^32] (got ${n})`);
    if (n === 0x100000000) return this.nextUint32();
    const limit = 0x100000000 - (0x100000000 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** an independent generator seeded from this one (for a sub-task such as one environment) */
  fork(): Rng {
    return new Rng(this.nextUint32() * 0x100000000 + this.nextUint32());
  }

  /** JSON-safe: four state words, then 1 and the cached normal, or 0 and 0 */
  state(): number[] {
    const hasSpare = Number.isNaN(this.spareNormal) ? 0 : 1;
    return [this.s0, this.s1, this.s2, this.s3, hasSpare, hasSpare === 1 ? this.spareNormal : 0];
  }

  static fromState(state: readonly number[]): Rng {
    return new Rng(0).restore(state);
  }

  /** continue from a saved state, in place: modules holding this generator follow it (resume) */
  restore(state: readonly number[]): this {
    const words = state.slice(0, 4);
    if (state.length !== 6 || words.some((x) => !Number.isInteger(x) || x < 0 || x > 0xffffffff) || words.every((x) => x === 0)) {
      throw new RangeError('Rng state: expected four uint32 words (not all zero), a flag and a cached normal');
    }
    [this.s0, this.s1, this.s2, this.s3] = words as [number, number, number, number];
    this.spareNormal = state[4] === 1 ? (state[5] as number) : Number.NaN;
    return this;
  }
}
