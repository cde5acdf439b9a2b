/**
 * The deployment API without Node built-ins: a policy from a policy file's bytes (fetched by a
 * page, read by any runtime). Node code that loads from a path or file URL uses ./node.ts.
 */
export { Policy, policyFromBytes, type LoadPolicyOptions } from './policy.js';
export {
  ActingSettingsError, POLICY_FORMAT_VERSION, POLICY_METADATA_KEY, PolicyHeaderSchema, restorePolicyFromBytes, type ActingOverrides, type PolicyHeader, type RestoredPolicy,
} from './policy-file.js';
export type { CandidateChoice, EvaluationCondition, SequencePolicy } from '../algos/algorithm.js';
