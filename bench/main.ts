/**
 * npm run bench [-- --json] [--quick] [--only SECTION] [--no-torch] [--backend webgpu]
 * Every figure that can be is reported as a ratio against a reference measured in the same run,
 * because shared machines are noisy.
 */
import type { BenchOptions, BenchRow, BenchSection } from './types.js';

const sections: Record<string, () => Promise<BenchSection>> = {
  // sections register here, one line each: name: async () => (await import('./file.js')).run,
  data: async () => (await import('./data.js')).run,
  engine: async () => (await import('./engine.js')).run,
  envs: async () => (await import('./envs.js')).run,
  kernels: async () => (await import('./kernels.js')).run,
  sweep: async () => (await import('./sweep.js')).run,
};

function formatTable(rows: BenchRow[]): string {
  return rows
    .map((row) => Object.entries(row).map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toPrecision(4)) : v}`).join('  '))
    .join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const onlyIndex = args.indexOf('--only');
  const only = onlyIndex >= 0 ? args[onlyIndex + 1]?.split(',') : undefined;
  const backendIndex = args.indexOf('--backend');
  const backendName = backendIndex >= 0 ? args[backendIndex + 1] : undefined;
  const options: BenchOptions = { quick: args.includes('--quick'), noTorch: args.includes('--no-torch'), ...(backendName === undefined ? {} : { backend: backendName }) };
  for (const [name, load] of Object.entries(sections)) {
    if (only !== undefined && !only.includes(name)) continue;
    const rows = await (await load())(options);
    if (json) for (const row of rows) console.log(JSON.stringify(row));
    else console.log(`## ${name}\n${formatTable(rows)}\n`);
  }
}

await main();
