import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgument } from '../../../errors';
import type { InstanceSpecForDriver } from '../driver';
import type { Accel, Machine } from './args';
import { MAX_UNIX_SOCKET_PATH } from './unix-socket';
import { writeJsonAtomic } from '../../../shared/atomic-file';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function validateInstanceId(id: string): void {
  if (!NAME.test(id)) throw new InvalidArgument(`instance id ${JSON.stringify(id)}: use 1-64 of [A-Za-z0-9._-], starting with a letter or digit`);
}

export function validateDiskName(name: string): void {
  if (!NAME.test(name)) throw new InvalidArgument(`disk name ${JSON.stringify(name)}: use 1-64 of [A-Za-z0-9._-], starting with a letter or digit`);
}

export interface StoredDisk {
  name: string;
  /** QEMU drive id. */
  id: string;
  path: string;
  boot: boolean;
}

export interface StoredSpec {
  spec: InstanceSpecForDriver;
  disks: StoredDisk[];
  createdAt: string;
}

/** Written by the driver right after it spawned QEMU. */
export interface RunRecord {
  pid: number;
  startedAt: string;
  accel: Accel;
  machine: Machine;
  argv: string[];
}

/** How the last run ended, as far as a driver saw it (QMP SHUTDOWN event, exit status). */
export interface ExitRecord {
  at: string;
  shutdownReason?: string;
  guest?: boolean;
  code?: number | null;
  signal?: string | null;
}

/**
 * <stateDir>/instances/<id>/: everything of one instance, so `rm -rf` of it is a
 * complete destroy and a restarted agent finds all it needs here.
 */
export class InstanceDir {
  readonly specFile: string;
  readonly qmpSocket: string;
  readonly consoleSocket: string;
  readonly pidFile: string;
  readonly logFile: string;
  readonly runFile: string;
  readonly exitFile: string;
  /** Present from a stop request until the next start: the end was asked for, not a crash. */
  readonly stopFile: string;
  readonly disksDir: string;

  constructor(readonly id: string, readonly dir: string) {
    this.specFile = path.join(dir, 'spec.json');
    this.qmpSocket = path.join(dir, 'qmp.sock');
    this.consoleSocket = path.join(dir, 'console.sock');
    this.pidFile = path.join(dir, 'qemu.pid');
    this.logFile = path.join(dir, 'qemu.log');
    this.runFile = path.join(dir, 'run.json');
    this.exitFile = path.join(dir, 'exit.json');
    this.stopFile = path.join(dir, 'stop-requested');
    this.disksDir = path.join(dir, 'disks');
    for (const sock of [this.qmpSocket, this.consoleSocket]) {
      if (Buffer.byteLength(sock) > MAX_UNIX_SOCKET_PATH) {
        throw new InvalidArgument(`${sock} is longer than a unix socket path may be (${MAX_UNIX_SOCKET_PATH} bytes): use a shorter state dir`);
      }
    }
  }

  diskPath(name: string): string {
    return path.join(this.disksDir, `${name}.qcow2`);
  }

  async exists(): Promise<boolean> {
    return stat(this.dir).then(
      () => true,
      () => false,
    );
  }

  async ensure(): Promise<void> {
    await mkdir(this.disksDir, { recursive: true });
  }

  readSpec(): Promise<StoredSpec | undefined> {
    return readJson<StoredSpec>(this.specFile);
  }

  writeSpec(s: StoredSpec): void {
    writeJsonAtomic(this.specFile, s, 2);
  }

  readRun(): Promise<RunRecord | undefined> {
    return readJson<RunRecord>(this.runFile);
  }

  writeRun(r: RunRecord): void {
    writeJsonAtomic(this.runFile, r, 2);
  }

  /** For exit handlers, which must not interleave with other writes. */
  runPidSync(): number | undefined {
    try {
      return (JSON.parse(readFileSync(this.runFile, 'utf8')) as RunRecord).pid;
    } catch {
      return undefined;
    }
  }

  readExit(): Promise<ExitRecord | undefined> {
    return readJson<ExitRecord>(this.exitFile);
  }

  /**
   * Merges into the record: the SHUTDOWN event and the exit status arrive separately.
   * Synchronous so two handlers never interleave their read-modify-write.
   */
  mergeExit(patch: Partial<ExitRecord>): void {
    let cur: ExitRecord | undefined;
    try {
      cur = JSON.parse(readFileSync(this.exitFile, 'utf8'));
    } catch {
      cur = undefined;
    }
    const next: ExitRecord = { ...cur, ...patch, at: cur?.at ?? patch.at ?? new Date().toISOString() };
    try {
      writeJsonAtomic(this.exitFile, next, 2);
    } catch {
      // The dir is gone (destroyed); there is nothing left to describe.
    }
  }

  markStopRequested(): void {
    writeFileSync(this.stopFile, new Date().toISOString() + '\n');
  }

  async stopRequested(): Promise<boolean> {
    return stat(this.stopFile).then(
      () => true,
      () => false,
    );
  }

  async clearStopRequested(): Promise<void> {
    await rm(this.stopFile, { force: true });
  }

  /** Leftovers of the previous run that would confuse the next one. */
  async clearRuntime(): Promise<void> {
    await Promise.all(
      [this.qmpSocket, this.consoleSocket, this.pidFile, this.runFile, this.exitFile, this.stopFile].map((f) => rm(f, { force: true })),
    );
  }

  /** The last non-empty line QEMU wrote to stderr, for crash reasons. */
  async lastLogLine(): Promise<string | undefined> {
    try {
      const text = await readFile(this.logFile, 'utf8');
      const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('--- '));
      return lines.at(-1)?.slice(0, 300);
    } catch {
      return undefined;
    }
  }

  /** The last line of QEMU's log that matches, for reasons that quote it. */
  async logLine(re: RegExp): Promise<string | undefined> {
    try {
      const lines = (await readFile(this.logFile, 'utf8')).split('\n').map((l) => l.trim());
      return lines.filter((l) => re.test(l)).at(-1)?.slice(0, 300);
    } catch {
      return undefined;
    }
  }

  /**
   * Everything but qemu.log: what a failed create leaves, so the failure's reason still
   * points to a file. Without spec.json the driver sees no instance here.
   */
  async removeAllButLog(): Promise<void> {
    const entries = await readdir(this.dir).catch(() => [] as string[]);
    await Promise.all(
      entries.filter((e) => e !== path.basename(this.logFile)).map((e) => rm(path.join(this.dir, e), { recursive: true, force: true, maxRetries: 5, retryDelay: 50 })),
    );
  }

  async remove(): Promise<void> {
    // Retries cover a file written into the dir while it is being removed.
    await rm(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  }
}

export class StateDir {
  readonly instancesDir: string;

  constructor(readonly root: string) {
    this.instancesDir = path.join(root, 'instances');
  }

  instance(id: string): InstanceDir {
    validateInstanceId(id);
    return new InstanceDir(id, path.join(this.instancesDir, id));
  }

  /** Every instance dir, created or half-created. */
  async ids(): Promise<string[]> {
    try {
      const entries = await readdir(this.instancesDir, { withFileTypes: true });
      return entries.filter((e) => e.isDirectory() && NAME.test(e.name)).map((e) => e.name).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

