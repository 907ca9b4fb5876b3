import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A program in a real pseudo-terminal: a tmux server of its own (socket
 * named after the run's token), one window of a given size. The test types
 * keys, reads the screen, resizes the window (the program gets SIGWINCH) and
 * reads the program's exit status once it ends.
 */
export class TmuxTerminal {
  private readonly dir = mkdtempSync(path.join(os.tmpdir(), 'hvt-tmux-'));
  private readonly socket: string;

  constructor(token: string) {
    // The socket in a directory of this run's own, not the shared /tmp/tmux-<uid>.
    this.socket = path.join(this.dir, `hvt${token}-${process.pid}.sock`);
    // The pane stays after the program ends, so its last screen and exit status can be read.
    writeFileSync(path.join(this.dir, 'tmux.conf'), 'set -g remain-on-exit on\nset -g history-limit 20000\nset -g status off\n');
  }

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-S', this.socket, '-f', path.join(this.dir, 'tmux.conf'), ...args], { encoding: 'utf8' });
  }

  /** Starts `argv` (with `env` added) in a width × height terminal. */
  start(argv: string[], env: Record<string, string>, width = 80, height = 24): void {
    const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    this.tmux('new-session', '-d', '-s', 'main', '-x', String(width), '-y', String(height), 'env', ...assignments, ...argv);
  }

  /** Literal text, as typed. */
  type(text: string): void {
    this.tmux('send-keys', '-t', 'main', '-l', text);
  }

  /** Named keys: Enter, C-], … */
  keys(...names: string[]): void {
    this.tmux('send-keys', '-t', 'main', ...names);
  }

  resize(width: number, height: number): void {
    this.tmux('resize-window', '-t', 'main', '-x', String(width), '-y', String(height));
  }

  /** The screen and its scrollback, as text. */
  screen(): string {
    return this.tmux('capture-pane', '-p', '-J', '-t', 'main', '-S', '-');
  }

  /** The program's exit status, once it ended. */
  exitStatus(): number | undefined {
    const [dead, status] = this.tmux('display-message', '-p', '-t', 'main', '#{pane_dead}:#{pane_dead_status}').trim().split(':');
    // tmux marks the pane dead a moment before it has the status.
    return dead === '1' && /^\d+$/.test(status ?? '') ? Number(status) : undefined;
  }

  /** Resolves once the screen matches (the terminal is read every 50 ms: tmux has no change event to wait on). */
  async waitFor(what: RegExp, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.screen();
      if (what.test(s)) return s;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} on the terminal; it shows:\n${s}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async waitForExit(timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.exitStatus();
      if (s !== undefined) return s;
      if (Date.now() > deadline) {
        const pane = this.tmux('display-message', '-p', '-t', 'main', '#{pane_pid} #{pane_dead}:#{pane_dead_status}').trim();
        const pid = pane.split(' ')[0];
        let ps = '';
        try {
          ps = execFileSync('ps', ['-o', 'pid,stat,wchan:20,args', '--pid', pid, '--ppid', pid], { encoding: 'utf8' });
        } catch {
          ps = `(no process ${pid})`;
        }
        throw new Error(`the program did not exit (pane ${pane}; ${ps}); the terminal shows:\n${this.screen()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  stop(): void {
    try {
      this.tmux('kill-server');
    } catch {
      // Already gone.
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
