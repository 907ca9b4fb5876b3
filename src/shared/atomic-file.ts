import { renameSync, writeFileSync } from 'node:fs';

/**
 * Written whole beside the file, then renamed over it: a crash leaves the old
 * content or the new one, never half of either. The temporary name carries the
 * pid, so two processes writing the same file never write into each other's.
 */
export function writeFileAtomic(file: string, data: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/** writeFileAtomic of the value as JSON (indented by space, for files people read). */
export function writeJsonAtomic(file: string, value: unknown, space?: number): void {
  writeFileAtomic(file, JSON.stringify(value, null, space) + (space ? '\n' : ''));
}
