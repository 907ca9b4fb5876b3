import { execFile } from 'node:child_process';
import type { Logger } from 'pino';
import { Internal } from '../errors';

/** A host command that failed: what ran, its exit code and what it said (the reason a port's ERROR status names). */
export class HostCommandFailed extends Internal {
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${argv.join(' ')}: ${stderr.trim() || `exit code ${exitCode}`}`);
  }
}

export const isHostCommandFailed = (e: unknown): e is HostCommandFailed => e instanceof HostCommandFailed;

export interface RunOptions {
  /** A failure whose stderr matches is success ("File exists" when the device is already there). */
  readonly okIf?: RegExp;
  /** Text for the command's stdin (nft -f -). */
  readonly input?: string;
}

/**
 * The one way the data plane runs host commands: each is logged (debug) with
 * its duration, and a failure becomes a HostCommandFailed carrying the
 * command and its stderr. `netns` runs it inside a named network namespace.
 */
export class HostRunner {
  constructor(
    private readonly log?: Logger,
    /** Runs every command inside this named namespace ('' = where we are). */
    readonly netns = '',
  ) {}

  /** The same runner, inside a named network namespace. */
  in(netns: string): HostRunner {
    return new HostRunner(this.log, netns);
  }

  async run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
    // `ip -n` enters the namespace without the mount namespace `ip netns exec` sets up: cheaper, same effect for ip.
    const argv = !this.netns ? [cmd, ...args] : cmd === 'ip' ? ['ip', '-n', this.netns, ...args] : ['ip', 'netns', 'exec', this.netns, cmd, ...args];
    const started = process.hrtime.bigint();
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(argv[0], argv.slice(1), { maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as NodeJS.ErrnoException & { code?: unknown }).code === 'ENOENT' ? 127 : (child.exitCode ?? 1)) : 0, stdout, stderr: err && !stderr ? err.message : stderr }),
      );
      if (opts.input !== undefined) child.stdin!.end(opts.input);
    });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (out.code !== 0 && !(opts.okIf && opts.okIf.test(out.stderr))) {
      this.log?.debug({ argv, ms, code: out.code, stderr: out.stderr.trim() }, 'host command failed');
      throw new HostCommandFailed(argv, out.code, out.stderr);
    }
    this.log?.debug({ argv, ms }, 'host command');
    return out.stdout;
  }

  /** `ip -json …` parsed ([] for no output). */
  async ipJson<T = Record<string, unknown>>(args: readonly string[], opts: RunOptions = {}): Promise<T[]> {
    const text = await this.run('ip', ['-json', ...args], opts);
    return text.trim() ? (JSON.parse(text) as T[]) : [];
  }

  ip(args: readonly string[], opts: RunOptions = {}): Promise<string> {
    return this.run('ip', args, opts);
  }
}
