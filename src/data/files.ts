/**
 * Every reader opens its input through this check: only regular files are read. A FIFO would block
 * the reader forever and a character device (a symlink to /dev/urandom or /dev/zero) never ends,
 * so both are refused before any byte is read. Symbolic links are followed to what they point at.
 */
import { statSync } from 'node:fs';
import { DataFileError } from './errors.js';

function kind(stats: ReturnType<typeof statSync>): string {
  if (stats === undefined) return 'unknown';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The size of a regular file; anything else (missing, unreadable, FIFO, device, directory) is a one-line DataFileError. */
export function regularFileSize(path: string, key?: string): number {
  let stats;
  try {
    stats = statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataFileError(path, 'no such file', key);
    if (code === 'EACCES' || code === 'EPERM') throw new DataFileError(path, 'permission denied', key);
    throw new DataFileError(path, `cannot read the file (${code ?? String(error)})`, key);
  }
  if (!stats.isFile()) throw new DataFileError(path, `${kind(stats)}, not a regular file; refusing to read it`, key);
  return stats.size;
}
