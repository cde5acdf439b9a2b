/**
 * D4RL reference scores (d4rl/infos.py) and the normalized score
 *   normalized = 100 * (return - min) / (max - min).
 * A standard deviation is a spread, not a level, so it is only scaled: 100 * std / (max - min)
 * (subtracting the minimum from it, as some code does, is a bug).
 */

export interface ReferenceScores {
  readonly min: number;
  readonly max: number;
}

const table = new Map<string, ReferenceScores>();

function add(ids: readonly string[], min: number, max: number): void {
  for (const id of ids) table.set(id, { min, max });
}

function expand(prefixes: readonly string[], suffixes: readonly string[]): string[] {
  return prefixes.flatMap((prefix) => suffixes.map((suffix) => `${prefix}${suffix}`));
}

add(['maze2d-open-v0'], 0.01, 20.66);
add(['maze2d-umaze-v1'], 23.85, 161.86);
add(['maze2d-medium-v1'], 13.13, 277.39);
add(['maze2d-large-v1'], 6.7, 273.99);
add(['maze2d-open-dense-v0'], 11.17817, 27.166538620695782);
add(['maze2d-umaze-dense-v1'], 68.537689, 193.66285642381482);
add(['maze2d-medium-dense-v1'], 44.264742, 297.4552547777125);
add(['maze2d-large-dense-v1'], 30.569041, 303.4857382709002);
add(['maze2d-eval-umaze-v1'], 36.63, 141.4);
add(['maze2d-eval-medium-v1'], 13.07, 204.93);
add(['maze2d-eval-large-v1'], 16.4, 302.22);
add(['maze2d-eval-umaze-dense-v1'], 56.95455, 178.21373133248397);
add(['maze2d-eval-medium-dense-v1'], 42.28578, 235.5658957482388);
add(['maze2d-eval-large-dense-v1'], 56.95455, 326.09647655082637);
add(['maze2d-umaze-v0'], 0.94, 62.6);
add(['maze2d-medium-v0'], 5.77, 85.14);
add(['maze2d-large-v0'], 4.83, 191.99);
add(['maze2d-umaze-dense-v0'], 23.249793, 81.78995240126592);
add(['maze2d-medium-dense-v0'], 19.47762, 96.03474232952358);
add(['maze2d-large-dense-v0'], 27.38831, 215.09965671563742);

add(
  expand(['antmaze-umaze', 'antmaze-umaze-diverse', 'antmaze-medium-play', 'antmaze-medium-diverse', 'antmaze-large-play', 'antmaze-large-diverse'], ['-v0', '-v2']),
  0,
  1,
);

const locomotionDatasets = ['random', 'medium', 'medium-replay', 'medium-expert', 'expert', 'full-replay'].flatMap((kind) => [`-${kind}-v0`, `-${kind}-v1`, `-${kind}-v2`]);
add(expand(['halfcheetah'], locomotionDatasets), -280.178953, 12135.0);
add(expand(['hopper'], locomotionDatasets), -20.272305, 3234.3);
add(expand(['walker2d'], locomotionDatasets), 1.629008, 4592.3);
add(expand(['ant'], locomotionDatasets), -325.6, 3879.7);
// Stitch's Gymnasium v4 tasks, which the D4RL v2 datasets match, share their family's constants
add(['halfcheetah-v4'], -280.178953, 12135.0);
add(['hopper-v4'], -20.272305, 3234.3);
add(['walker2d-v4'], 1.629008, 4592.3);

const adroitDatasets = ['-human-v0', '-human-v1', '-cloned-v0', '-cloned-v1', '-expert-v0', '-expert-v1'];
add(expand(['pen'], adroitDatasets), 96.262799, 3076.8331017826877);
add(expand(['hammer'], adroitDatasets), -274.856578, 12794.134825156867);
add(expand(['door'], adroitDatasets), -56.512833, 2880.5693087298737);
add(expand(['relocate'], adroitDatasets), -6.425911, 4233.877797728884);

add(['kitchen-complete-v0', 'kitchen-partial-v0', 'kitchen-mixed-v0'], 0, 4);

/** D4RL's file names spell sparse Maze2D explicitly (maze2d-umaze-sparse-v1); the registry id omits it. */
function canonicalId(id: string): string {
  return id.replace(/^(maze2d-(?:eval-)?(?:open|umaze|medium|large))-sparse(-v\d)$/, '$1$2');
}

export function hasReferenceScores(datasetOrEnvId: string): boolean {
  return table.has(canonicalId(datasetOrEnvId));
}

export function referenceScores(datasetOrEnvId: string): ReferenceScores {
  const scores = table.get(canonicalId(datasetOrEnvId));
  if (scores === undefined) throw new RangeError(`no D4RL reference scores for '${datasetOrEnvId}'; known ids look like maze2d-umaze-v1, hopper-medium-v2, antmaze-large-play-v2, pen-human-v1, kitchen-mixed-v0`);
  return scores;
}

export function referenceScoreIds(): string[] {
  return [...table.keys()];
}

export function normalizedScore(datasetOrEnvId: string, meanReturn: number): number {
  const { min, max } = referenceScores(datasetOrEnvId);
  return (100 * (meanReturn - min)) / (max - min);
}

export function normalizedStd(datasetOrEnvId: string, stdReturn: number): number {
  const { min, max } = referenceScores(datasetOrEnvId);
  return (100 * stdReturn) / (max - min);
}
