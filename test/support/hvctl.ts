import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The built CLI, run as a user runs it. */
export const HVCTL = path.join(__dirname, '..', '..', 'src', 'cli', 'hvctl.js');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** One directory for every config file of this test process, removed when the process ends. */
let configDir: string | undefined;
let configs = 0;
const nextConfigFile = (): string => {
  if (!configDir) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hvctl-cfg-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    configDir = dir;
  }
  return path.join(configDir, `config-${configs++}.yaml`);
};

/** A config file of its own, so no user's ~/.config/hvctl is read. */
export const isolatedEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const { HV_SERVER: _s, HV_ACTOR: _a, HVCTL_CA: _ca, HVCTL_CERT: _c, HVCTL_KEY: _k, HVCTL_CONTEXT: _x, ...env } = process.env;
  return { ...env, HVCTL_CONFIG: nextConfigFile(), ...extra };
};

/** hvctl with these arguments, to its end; never throws, the exit code is in the result. */
export const hvctl = (args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> =>
  new Promise((resolve) =>
    execFile(process.execPath, [HVCTL, ...args], { env: opts.env ?? isolatedEnv(), timeout: opts.timeoutMs ?? 30_000 }, (e, stdout, stderr) =>
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, stdout, stderr }),
    ),
  );

/** A long-running hvctl (--watch, --follow, --wait) whose output is read as it comes. */
export class HvctlProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number>;
  private waiters: (() => void)[] = [];

  constructor(args: string[], env: NodeJS.ProcessEnv = isolatedEnv()) {
    this.child = spawn(process.execPath, [HVCTL, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d) => {
      this.stdout += d;
      this.wake();
    });
    this.child.stderr!.on('data', (d) => {
      this.stderr += d;
      this.wake();
    });
    this.exited = new Promise((r) =>
      this.child.on('exit', (code) => {
        r(code ?? -1);
        this.wake();
      }),
    );
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The first line (of stdout, or stderr) after `from` that matches, once printed; fails on exit or after timeoutMs. */
  async line(match: RegExp, timeoutMs = 20_000, from = 0, stream: 'stdout' | 'stderr' = 'stdout'): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this[stream].slice(from).split('\n').find((l) => match.test(l));
      if (hit) return hit;
      if (this.child.exitCode !== null) throw new Error(`hvctl exited ${this.child.exitCode} before printing ${match}; stdout: ${this.stdout} stderr: ${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${match}; stdout: ${this.stdout} stderr: ${this.stderr}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  stop(): void {
    if (this.child.exitCode === null) this.child.kill();
  }
}
