import { spawn } from 'node:child_process';
import { FailedPrecondition, Internal } from '../../errors';

/**
 * Runs qemu-img (`bin`) with `args`, passing on its progress: with `-p` it prints
 * "(12.50/100%)" on stdout as it goes. A failure is Internal with qemu-img's own words
 * (they name files and options, never a key: keys are only ever file names here).
 */
export const runQemuImg = (bin: string, args: readonly string[], progress?: (percent: number) => void): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    const c = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    c.stdout.setEncoding('utf8').on('data', (s: string) => {
      const all = [...s.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)];
      if (all.length && progress) progress(Number(all[all.length - 1][1]));
    });
    c.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    c.on('error', (e) => reject(new FailedPrecondition(`${bin}: ${e.message} (Debian package qemu-utils)`)));
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Internal(`qemu-img ${args[0]}: ${err.trim() || `exit ${code}`}`))));
  });
