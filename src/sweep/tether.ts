/**
 * Runs `node ARGS...` and kills it when our parent dies. A sweep or worker process that is
 * SIGKILLed cannot stop its children, and an orphaned `stitch train` would keep writing the run
 * directory while the job is resumed elsewhere. The parent holds this process's stdin open; when
 * the parent dies the pipe closes, and the training process dies with it. Imports nothing heavy,
 * so it costs a few tens of milliseconds per job.
 */
import { spawn } from 'node:child_process';

const child = spawn(process.execPath, process.argv.slice(2), { stdio: ['ignore', 'inherit', 'inherit'] });
const stop = (): void => {
  child.kill('SIGKILL');
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.on('error', stop);
process.stdin.resume();
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal === null ? 1 : 128 + (signal === 'SIGKILL' ? 9 : 15));
  process.stdin.destroy();
});
