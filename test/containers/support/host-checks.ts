import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/** Processes whose command line holds `needle` (a container's dir or id). */
export const processesWith = (needle: string): string[] =>
  execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(needle) && !l.includes('ps -eo'));

/** Mount points at or under a path, from the mount table. */
export const mountsUnder = (p: string): string[] =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[4])
    .filter((m) => m === p || m.startsWith(`${p}/`));

export const existing = (paths: string[]): string[] => paths.filter((p) => existsSync(p));
