/**
 * Shared by the parity tests that compare Stitch with a reference's safetensors fixture
 * (PyTorch, the official QT code): the relative error they all measure, its assertion, and
 * name-checked access to the fixture's tensors.
 */
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DecisionTransformerConfig } from '../../src/algos/dt.js';
import { readSafetensors } from '../../src/nn/checkpoint.js';
import type { SafetensorsFile, StoredTensor } from '../../src/nn/safetensors.js';
import type { Parameter } from '../../src/engine/index.js';

/** test/fixtures/torch in the source tree (this file runs from dist/test/helpers) */
const torchFixtures = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'torch');

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

/**
 * Every named parameter's values, as `read` gets them (a gradient, the weights after a step; on a
 * device they are read back), against the fixture's `${prefix}${name}` within `tolerance`.
 */
export async function assertEachParameter(
  named: Iterable<[string, Parameter]>, read: (p: Parameter) => Promise<ArrayLike<number>>,
  fixture: FixtureAccess, prefix: string, what: string, tolerance: number,
): Promise<void> {
  for (const [name, p] of named) assertRelativeClose(`${what} ${name}`, await read(p), fixture.tensor(`${prefix}${name}`).data, tolerance);
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

/** A fixture of test/fixtures/torch (written by scripts/make_torch_fixtures.py or make_qt_fixtures.py), read and ready to query. */
export function openTorchFixture(name: string): SafetensorsFile & FixtureAccess & { path: string } {
  const path = join(torchFixtures, name);
  const file = readSafetensors(path);
  return { ...file, ...fixtureAccess(file, name), path };
}

/** the window batch's inputs that the sequence-model fixtures store under input.* */
export function fixtureInputs(tensor: FixtureAccess['tensor']): {
  states: Float32Array; actions: Float32Array; returnsToGo: Float32Array; timesteps: Int32Array; mask: Float32Array;
} {
  return {
    states: Float32Array.from(tensor('input.states').data),
    actions: Float32Array.from(tensor('input.actions').data),
    returnsToGo: Float32Array.from(tensor('input.returns_to_go').data),
    timesteps: Int32Array.from(tensor('input.timesteps').data),
    mask: Float32Array.from(tensor('input.mask').data),
  };
}

/**
 * A Decision Transformer fixture (dt_step*.safetensors): its config, which uses Stitch's own field
 * names (initialization does not matter: the weights are loaded), and its batch.
 */
export function openDtFixture(name: string) {
  const fixture = openTorchFixture(name);
  const stored = JSON.parse(fixture.metadata.config ?? '{}') as Omit<DecisionTransformerConfig, 'blockInit' | 'embeddingInit'>;
  const config: DecisionTransformerConfig = { ...stored, blockInit: 'gpt2', embeddingInit: 'torch' };
  const batch = { batchSize: Number(fixture.metadata.batch_size), ...fixtureInputs(fixture.tensor) };
  return { ...fixture, config, batch };
}
