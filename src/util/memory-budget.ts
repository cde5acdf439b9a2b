/**
 * How much memory one load may take. Inside a container `totalmem()` reports the host's memory,
 * not the container's limit, so the cgroup limit (v2 `memory.max`, v1 `memory.limit_in_bytes`)
 * is read first; the budget is a share of the smaller of the two, leaving room for the model,
 * the optimizer and the heap's own overhead.
 */
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';

/** Share of the available memory one dataset may take. */
export const MEMORY_BUDGET_SHARE = 0.5;

/** cgroup v1 reports "no limit" as a number near 2^63. */
const UNLIMITED_THRESHOLD = 2 ** 60;

function readLimit(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
  if (!/^\d+$/.test(text)) return undefined; // "max" (v2) or anything unexpected: no limit
  const value = Number(text);
  return value > 0 && value < UNLIMITED_THRESHOLD ? value : undefined;
}

/**
 * The tightest memory limit of this process's cgroups, in bytes, or undefined without one.
 * `root` is the file-system root (tests point it at a fake tree).
 */
export function cgroupMemoryLimit(root = '/'): number | undefined {
  const candidates: string[] = [];
  let membership = '';
  try {
    membership = readFileSync(join(root, 'proc/self/cgroup'), 'utf8');
  } catch {
    // not Linux, or /proc is hidden: only the fixed paths below are tried
  }
  for (const line of membership.split('\n')) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line.trim()) ?? [];
    if (path === undefined) continue;
    if (controllers === '') candidates.push(join(root, 'sys/fs/cgroup', path, 'memory.max'));
    else if (controllers?.split(',').includes('memory')) candidates.push(join(root, 'sys/fs/cgroup/memory', path, 'memory.limit_in_bytes'));
  }
  // Inside a container's cgroup namespace the own cgroup is the root of the mounted tree.
  candidates.push(join(root, 'sys/fs/cgroup/memory.max'), join(root, 'sys/fs/cgroup/memory/memory.limit_in_bytes'));
  const limits = candidates.map(readLimit).filter((limit): limit is number => limit !== undefined);
  return limits.length === 0 ? undefined : Math.min(...limits);
}

/** Bytes one dataset load may allocate: a share of the cgroup limit or of the machine's memory, whichever is smaller. */
export function memoryBudgetBytes(): number {
  const limit = cgroupMemoryLimit();
  return Math.floor(Math.min(totalmem(), limit ?? Number.POSITIVE_INFINITY) * MEMORY_BUDGET_SHARE);
}

/** 1536 -> "1.5 KiB"; for messages. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}
