import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

/**
 * Writes `content` to `file` only if no one has (two servers starting on one
 * data dir at once): written aside, then hard-linked into place, which fails
 * if the name exists. Returns what the file holds afterwards, ours or the
 * winner's.
 */
export const writeExclusive = (file: string, content: string, mode: number): { content: string; won: boolean } => {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(aside, content, { mode });
  try {
    linkSync(aside, file);
    return { content, won: true };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return { content: readFileSync(file, 'utf8'), won: false };
  } finally {
    rmSync(aside, { force: true });
  }
};

/** Replaces `file` at once (readers see the old or the new, never half). */
export const writeAtomic = (file: string, content: string, mode: number): void => {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(aside, content, { mode });
  renameSync(aside, file);
};

/** Waits (briefly, synchronously enough for a start) until another process's file appears. */
export const waitForFile = async (file: string, timeoutMs = 10_000): Promise<void> => {
  const until = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > until) throw new Error(`${file} did not appear (another server was making it)`);
    await new Promise((r) => setTimeout(r, 50));
  }
};
