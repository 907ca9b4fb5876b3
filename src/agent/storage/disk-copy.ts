import { existsSync, mkdirSync } from 'node:fs';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Internal } from '../../errors';
import { lastMessage, runTool } from '../../images/oci/run-tool';
import { endProcesses, isOurProcess, readPidFile } from '../../shared/process';
import type { AgentConfig } from '../config';
import { onHeldPort } from '../migration-ports';
import { runQemuImg } from './qemu-img-progress';

/** A file a cold move carries, named alike on both hosts (disk-<name>: an instance's own disk; vol-<id>: a volume). */
export interface MovedFile {
  readonly name: string;
  readonly path: string;
}

/** Where a source serves the files of a cold move (its advertise address, a port of the migration range). */
export interface DiskServerAddress {
  readonly host: string;
  readonly port: number;
}

/** Where this host serves files for copies: its advertise address, its migration port range, how long a server waits for its copy. */
export interface ServeSettings {
  readonly host: () => string;
  readonly portMin: number;
  readonly portMax: number;
  readonly lifetimeMs: number;
}

/** The agent's: copies are served where migrations come in, and wait as long as a migration may take. */
export const serveSettings = (cfg: Pick<AgentConfig, 'advertiseIp' | 'migrationPortMin' | 'migrationPortMax' | 'migrationCompletionSeconds'>): ServeSettings => ({
  host: () => cfg.advertiseIp,
  portMin: cfg.migrationPortMin,
  portMax: cfg.migrationPortMax,
  lifetimeMs: cfg.migrationCompletionSeconds * 1000,
});

/**
 * The one copy primitive of cold moves (an instance's own disks, volumes): the source
 * serves each file as it is on disk (the qcow2 file's bytes, `driver=file`, read-only)
 * from one qemu-storage-daemon over NBD, and the target reads it with `qemu-img convert
 * -f raw -O raw`, which writes only what is not zero (a sparse copy). The file's bytes
 * travel, not the disk it holds: an overlay carries only its own clusters (its backing
 * is pointed at the target's own base afterwards), an encrypted volume stays encrypted
 * on the wire and opens with the same key id on the target.
 */
export class DiskServer {
  /**
   * Each server's end after its lifetime (a move given up whose instance stays stopped sends
   * no more work here). The time it ends at is kept in a file beside its pid file too: an
   * agent that stops leaves its servers running (a copy under way goes on) and the next
   * agent on this host takes their ends up (adopt).
   */
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private pidFile = (key: string) => path.join(this.dir, `${key}.pid`);
  private endsAtFile = (key: string) => path.join(this.dir, `${key}.ends-at`);

  /** Serves the files (a server of this instance's serving already is ended first: a redelivered move serves afresh). */
  async serve(instanceId: string, files: readonly MovedFile[], at: DiskServerAddress, lifetimeMs: number): Promise<void> {
    await this.end(instanceId);
    const args = files.flatMap((f, i) => [
      '--blockdev', JSON.stringify({ driver: 'file', 'node-name': `f${i}`, filename: f.path, 'read-only': true }),
      '--export', JSON.stringify({ type: 'nbd', id: `e${i}`, 'node-name': `f${i}`, name: f.name, writable: false }),
    ]);
    const r = await runTool('qemu-storage-daemon', [
      '--nbd-server', JSON.stringify({ addr: { type: 'inet', host: at.host, port: String(at.port) } }),
      ...args,
      '--pidfile', this.pidFile(instanceId),
      '--daemonize',
    ], { pkg: 'qemu-system-common' });
    if (r.code !== 0) throw new Internal(`serving the disks of instance ${instanceId} for a cold move: ${lastMessage(r.stderr)}`);
    const endsAtMs = Date.now() + lifetimeMs;
    await writeFile(this.endsAtFile(instanceId), String(endsAtMs), { mode: 0o600 });
    this.endAt(instanceId, endsAtMs);
  }

  private endAt(key: string, endsAtMs: number): void {
    this.timers.set(key, setTimeout(() => void this.end(key).catch(() => undefined), Math.max(0, endsAtMs - Date.now())));
  }

  /**
   * The servers an earlier agent on this host left running: each ends when its lifetime
   * would have (at once if that has passed); the files of one no longer running go.
   */
  async adopt(): Promise<void> {
    for (const f of await readdir(this.dir)) {
      const key = f.endsWith('.ends-at') ? f.slice(0, -'.ends-at'.length) : undefined;
      if (!key || this.timers.has(key)) continue;
      const endsAtMs = Number(await readFile(path.join(this.dir, f), 'utf8').catch(() => ''));
      if ((await this.serving(key)) && Number.isFinite(endsAtMs)) this.endAt(key, endsAtMs);
      else await this.end(key);
    }
  }

  /** This agent stops: its timers go with it (the servers run on, their ends kept for the next agent's adopt). */
  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Serves the files under `key` on a free port of the range at the host's address (held until the server listens): where it is. */
  async serveOnFreePort(key: string, files: readonly MovedFile[], at: ServeSettings): Promise<DiskServerAddress> {
    const host = at.host();
    return onHeldPort(host, at.portMin, at.portMax, async (port) => {
      await this.serve(key, files, { host, port }, at.lifetimeMs);
      return { host, port };
    });
  }

  /** Whether this key's server runs (its pid file names a live qemu-storage-daemon of it). */
  async serving(key: string): Promise<boolean> {
    const file = this.pidFile(key);
    const pid = await readPidFile(file);
    return !!pid && (await isOurProcess(pid, file));
  }

  /**
   * Ends this instance's server, if one runs (it holds the files open: nothing may start from
   * them meanwhile). Only a process whose command line names its pid file is ended: after a
   * host's restart the pid may be another's.
   */
  async end(instanceId: string): Promise<void> {
    clearTimeout(this.timers.get(instanceId));
    this.timers.delete(instanceId);
    const file = this.pidFile(instanceId);
    // Every piece of an instance's work asks this first, and almost never is there a server: two stats on the
    // event loop say so, where the reads and removals through the thread pool waited 5-40 ms for threads on a busy host.
    if (!existsSync(file) && !existsSync(this.endsAtFile(instanceId))) return;
    const pid = await readPidFile(file);
    if (pid && (await isOurProcess(pid, file))) await endProcesses([pid], 5_000, 2_000);
    // The pid file last: while it is there, its server's end is still known.
    await rm(this.endsAtFile(instanceId), { force: true });
    await rm(file, { force: true });
  }
}

export interface FetchOptions {
  /** An overlay's backing on this host (its own cached base), set once the file is here. */
  readonly base?: { readonly path: string; readonly format: 'raw' | 'qcow2' };
  readonly progress?: (percent: number) => void;
  readonly qemuImg?: string;
}

/**
 * Target: the file `name` served at `from`, copied to `to` (made under a temporary name and
 * renamed, so a copy cut short never looks finished).
 */
export const fetchFile = async (from: DiskServerAddress, name: string, to: string, o: FetchOptions = {}): Promise<void> => {
  const bin = o.qemuImg ?? 'qemu-img';
  const tmp = `${to}.partial`;
  await rm(tmp, { force: true });
  try {
    await runQemuImg(bin, ['convert', '-p', '-f', 'raw', '-O', 'raw', `nbd://${from.host}:${from.port}/${name}`, tmp], o.progress);
    if (o.base) await runQemuImg(bin, ['rebase', '-u', '-f', 'qcow2', '-b', o.base.path, '-F', o.base.format, tmp]);
    await rename(tmp, to);
  } finally {
    await rm(tmp, { force: true });
  }
};
