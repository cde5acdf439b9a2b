/**
 * Health findings: what the load-time checks report. Every finding names the file, the key and
 * the first offending index, says how many rows it affects and what Stitch does about it.
 */

/** error: the data cannot be used as it is; warning: usable, but probably not what you meant; info: a decision worth knowing. */
export type Severity = 'error' | 'warning' | 'info';

export type FindingCode =
  | 'non-finite'
  | 'length-mismatch'
  | 'action-out-of-bounds'
  | 'empty-episode'
  | 'one-step-episode'
  | 'terminal-and-timeout'
  | 'trailing-transitions'
  | 'absurd-magnitude'
  | 'non-binary-flag'
  | 'no-timeouts-key'
  | 'episode-without-end'
  | 'no-episodes'
  | 'info-dropped'
  | 'observation-layout';

export interface Finding {
  code: FindingCode;
  severity: Severity;
  file: string;
  key: string;
  /** first offending row (transition index in the flat arrays, or episode index where the key says so) */
  index: number;
  /** how many rows (or episodes) are affected */
  count: number;
  message: string;
}

export function formatFinding(finding: Finding): string {
  const where = finding.index >= 0 ? `${finding.key}[${finding.index}]` : finding.key;
  return `${finding.severity}: ${finding.file}: ${where}: ${finding.message} (${finding.code})`;
}

/** With --strict every warning counts as an error; infos never do. */
export function applyStrict(findings: readonly Finding[], strict: boolean): Finding[] {
  if (!strict) return [...findings];
  return findings.map((finding) => (finding.severity === 'warning' ? { ...finding, severity: 'error' } : finding));
}

export function hasErrors(findings: readonly Finding[]): boolean {
  return findings.some((finding) => finding.severity === 'error');
}
