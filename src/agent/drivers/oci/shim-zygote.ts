import { type ChildProcessByStdio, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { Unavailable } from '../../../errors';
import type { ReadyRecord } from './state-dir';

/** A container's start as the zygote does it (see shim-zygote.py). */
export interface LaunchRequest {
  /** Made first (the overlay's dirs). */
  dirs: string[];
  /** The overlay, mounted by mount(2) unless it is (options: overlayfs's lowerdir=…,upperdir=…,workdir=…). */
  mount: { target: string; options: string };
  /** The last run's records, removed before the shim starts. */
  remove: string[];
  /** Where the shim's pid is written once it is forked. */
  pidFile: string;
  /** The shim's own arguments. */
  argv: string[];
  /** Its command line as a program: python, console-shim.py, argv. */
  cmdline: string[];
  cwd: string;
  /** Its stdout and stderr (appended). */
  log: string;
}

/** How a launch ended: the container runs, the shim ended before it did (exit.json says why), or a step failed. */
export type LaunchAnswer = { ready: ReadyRecord } | { ended: true } | { error: string; stage: 'mount' | 'launch' };

type Zygote = ChildProcessByStdio<Writable, Readable, null>;

/**
 * The agent's shim zygote (shim-zygote.py): a Python process with the console
 * shim loaded, which forks a shim per container instead of a new interpreter
 * per container, mounts containers' overlays (no mount(8) per container), and
 * says when the shim has the container running (nothing polls ready.json).
 * Started on first use, again after it ended; it ends with the agent (EOF on
 * its stdin), and the shims it started do not.
 */
export class ShimZygote {
  private proc?: Zygote;
  private next = 1;
  /** The current zygote's launches awaiting their answer. */
  private waiting = new Map<number, { resolve: (a: LaunchAnswer) => void; reject: (e: Error) => void }>();

  constructor(
    private readonly python: string,
    private readonly shimScript: string,
  ) {}

  /** Starts a container's shim; resolves once it runs the container, or did not. */
  launch(req: LaunchRequest): { answer: Promise<LaunchAnswer>; forget: () => void } {
    const z = this.proc ?? this.start();
    const id = this.next++;
    const waiting = this.waiting;
    const answer = new Promise<LaunchAnswer>((resolve, reject) => {
      // An answer awaited keeps the agent's process alive; an idle zygote does not.
      if (waiting.size === 0) (z.stdout as Socket).ref();
      waiting.set(id, { resolve, reject });
      z.stdin.write(`${JSON.stringify({ id, launch: req })}\n`);
    });
    // A launch given up on (its start timed out): its late answer is dropped.
    return { answer, forget: () => settled(z, waiting, id) };
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
    const waiting = (this.waiting = new Map());
    const lines = createInterface({ input: z.stdout });
    lines.on('line', (line) => {
      const { id, ...a } = JSON.parse(line) as LaunchAnswer & { id: number };
      const w = waiting.get(id);
      settled(z, waiting, id);
      w?.resolve(a);
    });
    const ended = (why: string) => {
      if (this.proc === z) this.proc = undefined;
      const ws = [...waiting.values()];
      waiting.clear();
      for (const w of ws) w.reject(new Unavailable(`the shim zygote ended (${why}) before it answered`));
    };
    z.once('error', (e) => ended(`${this.python}: ${e.message} (Debian package python3)`));
    z.once('exit', (code, signal) => ended(signal ?? `exit code ${code}`));
    return z;
  }
}

const settled = (z: Zygote, waiting: Map<number, unknown>, id: number): void => {
  waiting.delete(id);
  if (waiting.size === 0) (z.stdout as Socket).unref();
};
