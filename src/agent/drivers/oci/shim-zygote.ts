import { type ChildProcessByStdio, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Socket } from 'node:net';
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
type Answer = { pid?: number; error?: string };

/**
 * The agent's shim zygote (shim-zygote.py): a Python process with the console
 * shim loaded, which forks a shim per container instead of a new interpreter
 * per container, and mounts containers' overlays (no mount(8) per container).
 * Started on first use, again after it ended; it ends with the agent (EOF on
 * its stdin), and the shims it started do not.
 */
export class ShimZygote {
  private proc?: Zygote;
  private waiting: { resolve: (a: Answer) => void; reject: (e: Error) => void }[] = [];

  constructor(
    private readonly python: string,
    private readonly shimScript: string,
  ) {}

  /** Starts a shim; resolves with its pid once it runs. */
  async spawn(req: ShimRequest): Promise<number> {
    const a = await this.ask(req);
    if (!a.pid) throw new FailedPrecondition(`the shim zygote could not start a console shim: ${a.error}`);
    return a.pid;
  }

  /** mount(2) of an overlay (options: overlayfs's lowerdir=…,upperdir=…,workdir=…); the reason when it failed. */
  async mountOverlay(target: string, options: string): Promise<string | undefined> {
    return (await this.ask({ mount: { target, options } })).error;
  }

  private ask(req: object): Promise<Answer> {
    const z = this.proc ?? this.start();
    return new Promise<Answer>((resolve, reject) => {
      // An answer awaited keeps the agent's process alive; an idle zygote does not.
      if (this.waiting.length === 0) (z.stdout as Socket).ref();
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
    for (const s of [z.stdin, z.stdout] as Socket[]) s.unref();
    z.stdin.on('error', () => undefined);
    const lines = createInterface({ input: z.stdout });
    lines.on('line', (line) => {
      this.waiting.shift()?.resolve(JSON.parse(line) as Answer);
      if (this.waiting.length === 0) (z.stdout as Socket).unref();
    });
    const ended = (why: string) => {
      if (this.proc === z) this.proc = undefined;
      for (const w of this.waiting.splice(0)) w.reject(new Unavailable(`the shim zygote ended (${why}) before it answered`));
    };
    z.once('error', (e) => ended(`${this.python}: ${e.message} (Debian package python3)`));
    z.once('exit', (code, signal) => ended(signal ?? `exit code ${code}`));
    return z;
  }
}
