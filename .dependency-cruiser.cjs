/**
 * The layer rules of src/, checked by `npm run check:layers` (dependency-cruiser, in CI).
 *
 *   engine  <-  nn  <-  algos  <-  train  <-  cli, report, dashboard (and whatever drives training)
 *   data, envs, util: beside the model code; they may use engine (its Rng) and util, nothing above
 *   deploy: loadPolicy and the policy classes; uses algos, nn, engine, util; never an optimizer,
 *           the gradient step or training code (train/, cli/, report/, dashboard/)
 *
 * "A <- B" means B may import A, never the other way round. No import loops anywhere.
 */
const layer = (name) => `^src/${name}/`;
const above = (...names) => `^src/(${names.join('|')})/`;

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'an import loop ties every file on it together; break it by moving the shared piece down',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'engine-is-the-bottom',
      comment: 'the engine (tensors, ops, backends) imports nothing of Stitch above it',
      severity: 'error',
      from: { path: layer('engine') },
      to: { path: above('nn', 'algos', 'train', 'deploy', 'cli', 'report', 'dashboard', 'data', 'envs') },
    },
    {
      name: 'nn-below-algorithms',
      comment: 'layers, optimizers, the gradient step: no algorithm, training, data or environment code',
      severity: 'error',
      from: { path: layer('nn') },
      to: { path: above('algos', 'train', 'deploy', 'cli', 'report', 'dashboard', 'data', 'envs') },
    },
    {
      name: 'algorithms-below-training',
      comment: 'algorithms define networks, losses and updates; the loop, files and reports use them, not the reverse',
      severity: 'error',
      from: { path: layer('algos') },
      to: { path: above('train', 'deploy', 'cli', 'report', 'dashboard', 'envs') },
    },
    {
      name: 'algorithm-files-apart',
      comment: 'an algorithm file imports shared pieces from algos/parts, never another algorithm file',
      severity: 'error',
      from: { path: '^src/algos/(dt|reinformer|qt|rdt|rvdt)\\.ts$' },
      to: { path: '^src/algos/(dt|reinformer|qt|rdt|rvdt)\\.ts$' },
    },
    {
      name: 'parts-below-algorithms',
      comment: 'the shared pieces are used by algorithm files, not the other way round',
      severity: 'error',
      from: { path: '^src/algos/parts/' },
      to: { path: '^src/algos/(dt|reinformer|qt|rdt|rvdt|registry)\\.ts$' },
    },
    {
      name: 'data-envs-util-beside',
      comment: 'data, environments and utilities depend on no model, training or presentation code',
      severity: 'error',
      from: { path: above('data', 'envs', 'util') },
      to: { path: above('nn', 'algos', 'train', 'deploy', 'cli', 'report', 'dashboard') },
    },
    {
      name: 'training-below-presentation',
      comment: 'training does not import the CLI, the report or the dashboard (the CLI writes the report after training returns)',
      severity: 'error',
      from: { path: layer('train') },
      to: { path: above('cli', 'report', 'dashboard') },
    },
    {
      name: 'deploy-without-training',
      comment: 'the deployment module imports no optimizer, no gradient step and no training code',
      severity: 'error',
      from: { path: layer('deploy') },
      to: { path: ['^src/nn/(optim|step)\\.ts$', above('train', 'cli', 'report', 'dashboard')] },
    },
    {
      name: 'deploy-browser-entry-without-node',
      comment: 'deploy/index.ts and what it imports inside deploy/ use no Node built-in (deploy/node.ts reads files)',
      severity: 'error',
      from: { path: '^src/deploy/(index|policy|policy-file)\\.ts$' },
      to: { dependencyTypes: ['core'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
