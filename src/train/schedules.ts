/**
 * Schedules that do not fit the step budget: a warm-up longer than the run, QT-family cosine
 * decay over iterations × stepsPerIteration that the run cuts short or outlasts, an EMA that never
 * starts. Stitch does not rescale them (a schedule is part of the algorithm's config and the
 * presets reproduce papers); it warns at the start of every session, and the fix is a --set.
 * Every schedule is a function of the absolute step, never of `steps`, so raising the budget on
 * --resume continues the same curve.
 */

const numberField = (config: Record<string, unknown>, name: string): number | undefined => {
  const value = config[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
};

/** the --set that makes iterations × stepsPerIteration at most `steps` */
function fittingCosine(iterations: number, steps: number): string {
  const perIteration = Math.floor(steps / iterations);
  return perIteration >= 1 ? `--set stepsPerIteration=${perIteration}` : `--set iterations=${steps} --set stepsPerIteration=1`;
}

/** one line per schedule of `algorithm` (a resolved algorithm config) that does not fit `steps` */
export function scheduleWarnings(algorithm: Record<string, unknown>, steps: number): string[] {
  const warnings: string[] = [];
  const warmup = numberField(algorithm, 'warmupSteps');
  if (warmup !== undefined && warmup > steps) {
    warnings.push(`warmupSteps ${warmup} > steps ${steps}: the learning rate never leaves warm-up (it reaches ${((100 * steps) / warmup).toFixed(0)}% of lr); try --set warmupSteps=${Math.max(1, Math.round(steps / 10))}`);
  }
  const iterations = numberField(algorithm, 'iterations');
  const perIteration = numberField(algorithm, 'stepsPerIteration');
  if (iterations !== undefined && perIteration !== undefined && algorithm.lrDecay !== false) {
    const span = iterations * perIteration;
    if (span > steps) {
      const ratio = (1 + Math.cos((Math.PI * Math.floor((steps - 1) / perIteration)) / iterations)) / 2;
      warnings.push(`the cosine learning-rate decay spans iterations ${iterations} × stepsPerIteration ${perIteration} = ${span} steps, but the run has ${steps}: the run stops at ${(100 * ratio).toFixed(0)}% of lr; try ${fittingCosine(iterations, steps)}`);
    } else if (span < steps) {
      warnings.push(`the cosine learning-rate decay spans iterations ${iterations} × stepsPerIteration ${perIteration} = ${span} steps, but the run has ${steps}: beyond step ${span} the learning rate rises again (a cosine period, as torch's CosineAnnealingLR does)`);
    }
  }
  const emaStart = numberField(algorithm, 'emaStart');
  if (emaStart !== undefined && emaStart >= steps) {
    warnings.push(`emaStart ${emaStart} >= steps ${steps}: the EMA copy of the actor is never updated; try --set emaStart=${Math.floor(steps / 10)}`);
  }
  return warnings;
}
