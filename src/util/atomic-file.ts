/**
 * Durable file writes for run directories. Every byte goes through `writeSync`, so a failing
 * disk (ENOSPC, EIO, a read-only remount) surfaces as one FileWriteError naming the file.
 */
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** A write to `path` failed; `code` is the system error code (ENOSPC for a full disk) when there is one. */
export class FileWriteError extends Error {
  constructor(readonly path: string, readonly code: string | undefined, reason: string) {
    super(`${path}: could not write (${reason})`);
    this.name = 'FileWriteError';
  }
}

function asWriteError(path: string, error: unknown): FileWriteError {
  if (error instanceof FileWriteError) return error;
  const code = typeof (error as { code?: unknown } | null)?.code === 'string' ? (error as { code: string }).code : undefined;
  const reason = error instanceof Error ? error.message : String(error);
  return new FileWriteError(path, code, code === 'ENOSPC' ? `the disk is full: ${reason}` : reason);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
}

const TEMPORARY_SUFFIX = '.tmp';

/**
 * Write a file so that readers see either the old contents or the new, never a torn file:
 * write to a temporary name in the same folder, fsync, rename over the target, fsync the folder.
 * On failure (a full disk, say) the temporary file is removed and the old file is untouched.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}${TEMPORARY_SUFFIX}`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fd: number | undefined;
  try {
    fd = openSync(temporary, 'w');
    writeAll(fd, bytes);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temporary, path);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temporary, { force: true });
    throw asWriteError(path, error);
  }
  try {
    const dirFd = openSync(dirname(path), 'r');
    fsyncSync(dirFd);
    closeSync(dirFd);
  } catch {
    // some filesystems refuse fsync on a directory; the rename is still atomic
  }
}

/**
 * Appends text. Not atomic: a process killed or a disk filling mid-call can leave a torn last
 * line, which readers of append-only logs must tolerate (RunLogs drops it on resume).
 */
export function appendToFile(path: string, text: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'a');
    writeAll(fd, Buffer.from(text, 'utf8'));
    closeSync(fd);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    throw asWriteError(path, error);
  }
}

/** Flushes a file to the disk, so what was appended survives a power loss (no-op when absent). */
export function syncFile(path: string): void {
  if (!existsSync(path)) return;
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r+');
    fsyncSync(fd);
    closeSync(fd);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    throw asWriteError(path, error);
  }
}

/**
 * Removes the temporary files of writeFileAtomic calls that never finished (the process was
 * killed between open and rename) from `dir`; returns their names.
 */
export function removeStaleTemporaries(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const stale = readdirSync(dir).filter((name) => name.startsWith('.') && name.endsWith(TEMPORARY_SUFFIX));
  for (const name of stale) rmSync(join(dir, name), { force: true });
  return stale;
}
