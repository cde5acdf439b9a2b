/**
 * Shared by the parity tests that compare Stitch with a reference's safetensors fixture
 * (PyTorch, the official QT code): the relative error they all measure, its assertion, and
 * name-checked access to the fixture's tensors.
 */
import assert from 'node:assert/strict';
import type { SafetensorsFile, StoredTensor } from '../../src/nn/safetensors.js';

/**
 * max |a - b| / max |b| over the selected entries (every entry by default): relative to the
 * tensor's scale, so tiny entries do not dominate. The scale is taken over the selected entries
 * only; an all-zero expectation gives the absolute error.
 */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>, select: (i: number) => boolean = () => true): number {
  assert.equal(actual.length, expected.length, 'lengths differ');
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    if (!select(i)) continue;
    scale = Math.max(scale, Math.abs(expected[i] as number));
    worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)));
  }
  return scale === 0 ? worst : worst / scale;
}

/** Fails, naming `what`, when relativeError exceeds `tolerance`; returns the error (callers track the worst). */
export function assertRelativeClose(
  what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, select?: (i: number) => boolean,
): number {
  const error = relativeError(actual, expected, select);
  assert.ok(error <= tolerance, `${what}: relative error ${error} > ${tolerance}`);
  return error;
}

export interface FixtureAccess {
  /** the named tensor; throws naming the fixture when it is missing */
  tensor(name: string): StoredTensor;
  /** every tensor whose name starts with `prefix`, keyed by the rest of its name */
  prefixed(prefix: string): Map<string, StoredTensor>;
}

/** `label` names the fixture in the error for a missing tensor (usually its file name) */
export function fixtureAccess(file: SafetensorsFile, label: string): FixtureAccess {
  return {
    tensor(name: string): StoredTensor {
      const t = file.tensors.get(name);
      if (t === undefined) throw new Error(`fixture ${label} lacks ${name}`);
      return t;
    },
    prefixed(prefix: string): Map<string, StoredTensor> {
      return new Map([...file.tensors].filter(([n]) => n.startsWith(prefix)).map(([n, t]) => [n.slice(prefix.length), t]));
    },
  };
}
