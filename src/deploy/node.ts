/**
 * Loading a policy in Node: from a path, a file URL or bytes. The one deployment file that reads
 * the file system, kept apart so that ./index.ts bundles for a browser.
 */
import { fileURLToPath } from 'node:url';
import { readBytes } from '../nn/checkpoint.js';
import { SafetensorsError } from '../nn/safetensors.js';
import { policyFromBytes, type LoadPolicyOptions, type Policy } from './policy.js';
import { restorePolicyFromBytes, type RestoredPolicy } from './policy-file.js';

export type PolicySource = string | URL | Uint8Array;

function read(source: PolicySource): { bytes: Uint8Array; name: string } {
  if (source instanceof Uint8Array) return { bytes: source, name: 'policy bytes' };
  if (source instanceof URL && source.protocol !== 'file:') {
    throw new SafetensorsError(`${source.href}: only file: URLs are read here; fetch the bytes and call policyFromBytes`);
  }
  const path = source instanceof URL ? fileURLToPath(source) : source;
  return { bytes: readBytes(path), name: path };
}

/** Restores the policy file (path, file URL or bytes): its header and acting model, weights loaded, eval mode. */
export function restorePolicy(source: PolicySource): RestoredPolicy {
  const { bytes, name } = read(source);
  return restorePolicyFromBytes(bytes, name);
}

/** Loads a trained policy (path, file URL or bytes) to act with. */
export function loadPolicy(source: PolicySource, options: LoadPolicyOptions = {}): Policy {
  const { bytes, name } = read(source);
  return policyFromBytes(bytes, options, name);
}
