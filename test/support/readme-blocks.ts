import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { NetnsHost } from './netns-hosts';
import { REPO } from './npm-start';

/** The shell blocks of the README marked `<!-- quick-start … -->` (the marker on the line before the fence), in order. */
export const quickStartBlocks = (file = path.join(REPO, 'README.md')): string[] => {
  const lines = readFileSync(file, 'utf8').split('\n');
  const blocks: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('<!-- quick-start') || lines[i + 1] !== '```sh') continue;
    const end = lines.indexOf('```', i + 2);
    if (end < 0) throw new Error(`README.md: the quick-start block at line ${i + 1} never ends`);
    blocks.push(lines.slice(i + 2, end).join('\n'));
    i = end;
  }
  return blocks;
};

/**
 * One bash, as the user's second terminal: the README's blocks are typed into
 * it one after the other (aliases, variables and background jobs carry over),
 * inside the namespace host, from the clone, with `set -e`: a command that
 * fails ends the shell, and the block's run with it.
 */
export class ReadmeShell {
  private out = '';
  private readonly child: ChildProcess;
  private n = 0;

  constructor(host: NetnsHost, prelude: string, env: Record<string, string>) {
    const [cmd, ...args] = host.wrap(['bash', '--noprofile', '--norc']);
    this.child = spawn(cmd, args, { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.child.stdout!.on('data', (d) => (this.out += d));
    this.child.stderr!.on('data', (d) => (this.out += d));
    this.child.stdin!.write(`shopt -s expand_aliases\nset -eo pipefail\n${prelude}\n`);
  }

  /** Runs a block; resolves with what it printed once its last line is done, rejects (with the output) when it failed. */
  run(block: string, timeoutMs = 600_000): Promise<string> {
    const mark = `__quick_start_block_${++this.n}_done__`;
    const from = this.out.length;
    this.child.stdin!.write(`${block}\necho ${mark}\n`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`block ${this.n} did not finish within ${timeoutMs} ms:\n${this.out.slice(from)}`)), timeoutMs);
      const check = () => {
        const at = this.out.indexOf(mark, from);
        if (at >= 0) return done(undefined, this.out.slice(from, at));
        if (this.child.exitCode !== null) done(new Error(`the shell ended (exit ${this.child.exitCode}) in this block:\n${block}\n--- it printed:\n${this.out.slice(from)}`));
      };
      const done = (err?: Error, text?: string) => {
        clearTimeout(timer);
        this.child.stdout!.off('data', check);
        this.child.off('exit', check);
        if (err) reject(err);
        else resolve(text!);
      };
      this.child.stdout!.on('data', check);
      this.child.on('exit', check);
      check();
    });
  }

  close(): void {
    this.child.stdin!.end();
    if (this.child.exitCode === null) this.child.kill();
  }
}
