import { type ChildProcessByStdio, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { FailedPrecondition, Unavailable } from '../../../errors';

/** What a shim is started with (see shim-zygote.py). */
export interface ShimRequest {
  /** The shim's own arguments. */
  argv: string[];
  /** Its command line as a program: python, console-shim.py, argv. */
  cmdline: string[];
  cwd: string;
  /** Its stdout and stderr (appended). */
  log: string;
}

type Zygote = ChildProcessByStdio<Writable, Readable, null>;

/**
 * The agent's shim zygote (shim-zygote.py): a Python process with the console
 * shim loaded, which forks a shim per container instead of a new interpreter
 * per container. Started on first use, again after it ended; it ends with the
 * agent (EOF on its stdin), and the shims it started do not.
 */
export class ShimZygote {
  private proc?: Zygote;
  private waiting: { resolve: (pid: number) => void; reject: (e: Error) => void }[] = [];

  constructor(
    private readonly python: string,
    private readonly shimScript: string,
  ) {}

  /** Starts a shim; resolves with its pid once it runs. */
  spawn(req: ShimRequest): Promise<number> {
    const z = this.proc ?? this.start();
    return new Promise<number>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      z.stdin.write(`${JSON.stringify(req)}\n`);
    });
  }

  /** Ends the zygote (its shims keep running): EOF on its stdin, and it has exited (killed after a while). */
  async close(): Promise<void> {
    const z = this.proc;
    this.proc = undefined;
    if (!z || z.exitCode !== null || z.signalCode !== null) return;
    const exited = new Promise((r) => z.once('exit', r));
    z.stdin.end();
    const t = setTimeout(() => z.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(t);
  }

  private start(): Zygote {
    const script = path.join(path.dirname(this.shimScript), 'shim-zygote.py');
    // The padding argument is room for the longest shim command line a fork writes over the zygote's (shim-zygote.py set_cmdline).
    const z = spawn(this.python, [script, ' '.repeat(16 * 1024)], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.proc = z;
    // A zygote must not keep the agent's process alive, nor its pipes.
    z.unref();
    for (const s of [z.stdin, z.stdout] as unknown as { unref?: () => void }[]) s.unref?.();
    z.stdin.on('error', () => undefined);
    const lines = createInterface({ input: z.stdout });
    lines.on('line', (line) => {
      const w = this.waiting.shift();
      if (!w) return;
      const a = JSON.parse(line) as { pid?: number; error?: string };
      if (a.pid) w.resolve(a.pid);
      else w.reject(new FailedPrecondition(`the shim zygote could not start a console shim: ${a.error}`));
    });
    const ended = (why: string) => {
      if (this.proc === z) this.proc = undefined;
      for (const w of this.waiting.splice(0)) w.reject(new Unavailable(`the shim zygote ended (${why}) before it started the console shim`));
    };
    z.once('error', (e) => ended(`${this.python}: ${e.message} (Debian package python3)`));
    z.once('exit', (code, signal) => ended(signal ?? `exit code ${code}`));
    return z;
  }
}
