/**
 * A run's policy for the commands that ship it (`stitch play`, `stitch export`): its path, checked
 * to restore, and the player settings, with one-line errors (exit 2) for a missing or invalid run.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { restorePolicy } from '../deploy/node.js';
import type { RestoredPolicy } from '../deploy/policy-file.js';
import { SafetensorsError } from '../nn/safetensors.js';
import type { PlaySettings } from '../play/settings.js';
import { BEST_POLICY_FILE, POLICY_FILE, readRunConfig } from '../train/run-files.js';
import { UserError } from './errors.js';

/** which of a run's policy files: the last step's, or the best evaluation's (`stitch train --keep-best`) */
export type RunPolicyChoice = 'last' | 'best';

/** the `--best` flag of the commands that ship a run's policy */
export const BEST_FLAG_HELP = `the best evaluation's weights (${BEST_POLICY_FILE}, from stitch train --keep-best) instead of the last step's`;

/** the run's policy file, or a one-line error (exit 2) when the run or its policy is missing or invalid */
export function runPolicyPath(runDir: string, choice: RunPolicyChoice = 'last'): string {
  if (!existsSync(runDir) || !statSync(runDir).isDirectory()) throw new UserError(`${runDir}: no such run directory`);
  const path = join(runDir, choice === 'best' ? BEST_POLICY_FILE : POLICY_FILE);
  if (!existsSync(path)) {
    throw new UserError(choice === 'best'
      ? `${runDir}: no ${BEST_POLICY_FILE} (written when a run trained with --keep-best finishes)`
      : `${runDir}: no ${POLICY_FILE} (train the run first)`);
  }
  return path;
}

export function restoreRunPolicy(runDir: string, choice: RunPolicyChoice = 'last'): RestoredPolicy {
  const path = runPolicyPath(runDir, choice);
  try {
    return restorePolicy(path);
  } catch (error) {
    if (error instanceof SafetensorsError) throw new UserError(error.message);
    throw error;
  }
}

export function integer(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(parsed) || parsed < min || parsed > max) throw new UserError(`${flag} must be an integer in ${min}..${max} (got ${value})`);
  return parsed;
}

/** the player's settings for a run: the evaluation seed given, else the run's, else 0 (as `stitch eval`) */
export function playSettings(runDir: string, seedOption: string | undefined): PlaySettings {
  const seed = integer('--seed', seedOption, 0, 2 ** 32 - 1);
  if (seed !== undefined) return { seed };
  try {
    return { seed: readRunConfig(runDir).evalSeed };
  } catch {
    return { seed: 0 };
  }
}

/** checks the policy file restores (a corrupt file is refused here, in one line) and returns its path */
export function checkedPolicyPath(runDir: string, choice: RunPolicyChoice = 'last'): string {
  restoreRunPolicy(runDir, choice);
  return runPolicyPath(runDir, choice);
}
