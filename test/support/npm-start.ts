import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ended, readProcStat } from '../../src/shared/proc-stat';
import type { NetnsHost } from './netns-hosts';
import { until } from './until';

/** The clone's root (dist/test/support → the repository), where a user types `npm start`. */
export const REPO = path.join(__dirname, '..', '..', '..');

/**
 * `npm start` as a user runs it, in a namespace host: its own loopback, so the
 * real default ports (50051, 8080, 4222, 50052) are free whatever else runs on
 * this machine, and `ip netns pids` lists everything it left running. Its own
 * process group (as a terminal or a service manager gives it), with a fresh data
 * dir; the agent's hostname is the host's name, so the host's cleanup finds what
 * it made.
 *
 *   const run = NpmStart.spawn(host, ['--', '--accel', 'tcg']);
 *   await run.waitFor(/hypervisor is ready/);
 *   process.kill(-run.pgid, 'SIGTERM');
 *   await run.ended();   // nothing left in the namespace
 */
export class NpmStart {
  log = '';
  private constructor(
    readonly host: NetnsHost,
    readonly child: ChildProcess,
    readonly dataDir: string,
  ) {}

  static spawn(host: NetnsHost, args: readonly string[] = [], env: Record<string, string> = {}): NpmStart {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hv-npm-start-'));
    const [cmd, ...argv] = host.wrap(['npm', 'start', ...args]);
    const child = spawn(cmd, argv, {
      cwd: REPO,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HV_DATA_DIR: dataDir, HV_AGENT_HOSTNAME: host.name, ...env },
    });
    const run = new NpmStart(host, child, dataDir);
    child.stdout!.on('data', (d) => (run.log += d));
    child.stderr!.on('data', (d) => (run.log += d));
    return run;
  }

  /** npm's pid, which is also its process group's id (nsenter execs npm). */
  get pgid(): number {
    return this.child.pid!;
  }

  /** The server's own node process (npm's child). */
  nodePid(): number | undefined {
    return this.processes().find((p) => p.ppid === this.pgid && /dist\/src\/main\.js/.test(p.cmdline))?.pid;
  }

  /** Everything running in the namespace now (zombies are gone already). */
  processes(): { pid: number; ppid: number; cmdline: string }[] {
    const out: { pid: number; ppid: number; cmdline: string }[] = [];
    for (const pid of this.nsPids()) {
      try {
        const s = readProcStat(pid);
        if (ended(s)) continue;
        out.push({ pid, ppid: s!.ppid, cmdline: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim() });
      } catch {
        // ended meanwhile
      }
    }
    return out;
  }

  private nsPids(): number[] {
    try {
      return execFileSync('ip', ['netns', 'pids', this.host.name], { encoding: 'utf8' }).split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  /** Waits for a log line matching `re` (the start failing is a failure at once). */
  async waitFor(re: RegExp, timeoutMs = 90_000): Promise<void> {
    await until(
      `npm start to log ${re}`,
      () => re.test(this.log) || (this.child.exitCode !== null || this.child.signalCode !== null ? Promise.reject(new Error(`npm start ended:\n${this.log}`)) : undefined),
      timeoutMs,
    );
  }

  /** The log's JSON lines (off a terminal the log is JSON). */
  lines(): Record<string, unknown>[] {
    return this.log
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Waits until npm has exited and nothing at all runs in the namespace any more. */
  async ended(timeoutMs = 60_000): Promise<void> {
    await until('npm to exit', () => this.child.exitCode !== null || this.child.signalCode !== null, timeoutMs);
    await until(`nothing left running in ${this.host.name} (${JSON.stringify(this.processes())})`, () => this.processes().length === 0, timeoutMs);
  }

  /** Kills whatever is left (a failed test) and removes the data dir. */
  async cleanup(): Promise<void> {
    for (const p of this.processes()) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
