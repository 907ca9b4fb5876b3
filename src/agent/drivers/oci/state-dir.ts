import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgument } from '../../../errors';
import type { InstanceSpecForDriver } from '../driver';
import { MAX_UNIX_SOCKET_PATH } from '../qemu/unix-socket';
import { validateInstanceId } from '../qemu/state-dir';
import { writeJsonAtomic } from '../../../shared/atomic-file';

export interface StoredContainer {
  spec: InstanceSpecForDriver;
  createdAt: string;
}

/** Written by the shim once the container runs. */
export interface ReadyRecord {
  shimPid: number;
  pid: number;
  /** Unix seconds. */
  at: number;
}

/** Written by the shim when the container's process ended (or its start failed). */
export interface ExitRecord {
  at: number;
  code?: number;
  signal?: string;
  oomKills?: number;
  error?: string;
}

/**
 * <stateDir>/instances/<id>/ is the container's bundle and everything else of it:
 * config.json and rootfs/ (the overlay's mount point), upper/ and work/ (its
 * writable layer), the shim's files. `rm -rf` of it (after unmounting rootfs)
 * is a complete destroy; an adopting agent finds all it needs here.
 */
export class ContainerDir {
  readonly specFile: string;
  readonly configFile: string;
  readonly rootfs: string;
  readonly upper: string;
  readonly work: string;
  readonly readyFile: string;
  readonly exitFile: string;
  readonly shimPidFile: string;
  readonly shimLog: string;
  readonly consoleSocket: string;
  /** Present from a stop request until the next start: the end was asked for. */
  readonly stopFile: string;

  constructor(
    readonly id: string,
    readonly dir: string,
  ) {
    validateInstanceId(id);
    this.specFile = path.join(dir, 'spec.json');
    this.configFile = path.join(dir, 'config.json');
    this.rootfs = path.join(dir, 'rootfs');
    this.upper = path.join(dir, 'upper');
    this.work = path.join(dir, 'work');
    this.readyFile = path.join(dir, 'ready.json');
    this.exitFile = path.join(dir, 'exit.json');
    this.shimPidFile = path.join(dir, 'shim.pid');
    this.shimLog = path.join(dir, 'shim.log');
    this.consoleSocket = path.join(dir, 'console.sock');
    this.stopFile = path.join(dir, 'stop-requested');
    // The shim also binds runc-console.sock here, one byte longer.
    if (Buffer.byteLength(path.join(dir, 'runc-console.sock')) > MAX_UNIX_SOCKET_PATH)
      throw new InvalidArgument(`${dir} is too long a directory for unix sockets (${MAX_UNIX_SOCKET_PATH} bytes): use a shorter state dir`);
  }

  /** The dir itself; rootfs/, upper/ and work/ are made by each start, with the overlay (shim.ts). */
  async ensure(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
  }

  exists(): Promise<boolean> {
    return exists(this.dir);
  }

  readSpec = () => readJson<StoredContainer>(this.specFile);
  writeSpec = (s: StoredContainer) => writeJsonAtomic(this.specFile, s, 1);
  readReady = () => readJson<ReadyRecord>(this.readyFile);
  readExit = () => readJson<ExitRecord>(this.exitFile);
  writeConfig = (c: unknown) => writeJsonAtomic(this.configFile, c, 1);
  stopRequested = () => exists(this.stopFile);
  /** config.json is written before every run's shim starts: without it, no run was ever launched from here. */
  launchedBefore = () => exists(this.configFile);
  markStopRequested = () => writeFileSync(this.stopFile, new Date().toISOString());

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

export class OciStateDir {
  readonly instancesDir: string;
  readonly volumesDir: string;
  readonly runcRoot: string;

  constructor(readonly root: string) {
    this.instancesDir = path.join(root, 'instances');
    this.volumesDir = path.join(root, 'volumes');
    this.runcRoot = path.join(root, 'runc');
  }

  instance(id: string): ContainerDir {
    return new ContainerDir(id, path.join(this.instancesDir, id));
  }

  /** Ids of created containers (a dir without spec.json is a create that did not finish; it is listed too, for cleanup). */
  async ids(): Promise<string[]> {
    return (await readdir(this.instancesDir).catch(() => [] as string[])).filter((n) => /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(n));
  }
}

// The dir's records are a few hundred bytes each, read on every start, attach and look: read on the event
// loop, where each round trip through the thread pool waited 5-40 ms for a thread on a busy host (two cores,
// load 5), several times per container start.
const exists = async (p: string) => existsSync(p);

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
