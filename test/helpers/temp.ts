/**
 * Temporary directories for tests, removed when the test process exits (node --test runs each
 * file in its own process), so a test run leaves nothing behind in the system's temp folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const created: string[] = [];
let cleanupRegistered = false;

export function removedAtExit(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    process.on('exit', () => {
      for (const path of created) rmSync(path, { recursive: true, force: true });
    });
  }
  return dir;
}
