import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FailedPrecondition, Internal } from '../../../errors';
import { lastMessage, runTool } from '../../../images/oci/run-tool';

export type RuncStatus = 'creating' | 'created' | 'running' | 'pausing' | 'paused' | 'stopped';

export interface RuncState {
  readonly id: string;
  readonly status: RuncStatus;
  /** 0 once stopped. */
  readonly pid: number;
  readonly created: string;
}

const GONE = /does not exist|container not found|not exist/i;
const NOT_RUNNING = /not running|process already finished|no such process/i;

/**
 * The runc command line, with a state root of our own (`--root`), so the
 * driver's containers are never mixed with anyone else's runc containers.
 */
export class Runc {
  constructor(
    readonly bin: string,
    readonly root: string,
  ) {}

  private run(args: string[]) {
    return runTool(this.bin, ['--root', this.root, ...args], { pkg: 'runc' });
  }

  async version(): Promise<string> {
    const r = await runTool(this.bin, ['--version'], { pkg: 'runc' });
    if (r.code !== 0) throw new FailedPrecondition(`${this.bin} --version failed: ${r.stderr.trim()}`);
    return r.stdout.split('\n')[0];
  }

  /** undefined = runc knows no such container. */
  async state(id: string): Promise<RuncState | undefined> {
    const r = await this.run(['state', id]);
    if (r.code === 0) return JSON.parse(r.stdout) as RuncState;
    if (GONE.test(r.stderr)) return undefined;
    throw new Internal(`runc state ${id}: ${lastMessage(r.stderr)}`);
  }

  /** A container that has ended (or never existed) is no error: the signal has nothing to reach. */
  async kill(id: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const r = await this.run(['kill', id, signal]);
    if (r.code === 0 || GONE.test(r.stderr) || NOT_RUNNING.test(r.stderr)) return;
    throw new Internal(`runc kill ${id} ${signal}: ${lastMessage(r.stderr)}`);
  }

  /** Removes the container's runc state and its cgroups; unknown id = success. */
  async delete(id: string): Promise<void> {
    const r = await this.run(['delete', '--force', id]);
    if (r.code === 0 || GONE.test(r.stderr)) return;
    throw new Internal(`runc delete ${id}: ${lastMessage(r.stderr)}`);
  }

  async list(): Promise<RuncState[]> {
    const r = await this.run(['list', '--format', 'json']);
    if (r.code !== 0) throw new Internal(`runc list: ${lastMessage(r.stderr)}`);
    return (JSON.parse(r.stdout || 'null') as RuncState[] | null) ?? [];
  }

  /** The default spec of this runc (`runc spec`): the base every bundle's config starts from. */
  async defaultSpec(): Promise<Record<string, unknown>> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hv-runc-spec-'));
    try {
      const r = await runTool(this.bin, ['spec', '--bundle', dir], { pkg: 'runc' });
      if (r.code !== 0) throw new FailedPrecondition(`runc spec failed: ${lastMessage(r.stderr)}`);
      return JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
