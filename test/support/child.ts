import { type ChildProcess, spawn } from 'node:child_process';

/**
 * One of our binaries as a child process, so a test can kill -9 it and start
 * it again: its output is kept in `log`; stop() asks with SIGTERM and, after
 * `graceMs`, insists with SIGKILL.
 */
export class ChildBinary {
  child?: ChildProcess;
  log = '';

  constructor(private readonly script: string) {}

  /** wrap: turns the argv into one that runs it elsewhere (a network namespace: `ip netns exec <ns> …`). */
  protected spawn(args: readonly string[], env: Record<string, string> = {}, wrap?: (argv: string[]) => string[]): ChildProcess {
    const argv = [process.execPath, this.script, ...args];
    const [cmd, ...rest] = wrap ? wrap(argv) : argv;
    const child = spawn(cmd, rest, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    child.stdout!.on('data', (d) => (this.log += d));
    child.stderr!.on('data', (d) => (this.log += d));
    this.child = child;
    return child;
  }

  get running(): boolean {
    const c = this.child;
    return !!c && c.exitCode === null && c.signalCode === null;
  }

  kill9(): Promise<void> {
    return this.end('SIGKILL');
  }

  stop(graceMs = 10_000): Promise<void> {
    return this.end('SIGTERM', graceMs);
  }

  private async end(signal: NodeJS.Signals, graceMs?: number): Promise<void> {
    const c = this.child;
    if (!c || !this.running) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill(signal);
    const t = graceMs === undefined ? undefined : setTimeout(() => c.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(t);
  }
}
