import { lstat, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { FailedPrecondition, InvalidArgument } from '../../../errors';
import type { ImageProcessConfig, InstanceSpecForDriver } from '../driver';
import { diskOf } from './block-device';
import type { ContainerDir } from './state-dir';

/** The parts of an OCI runtime config (runtime-spec config.md) this driver sets. */
export interface OciSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    [k: string]: unknown;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: { destination: string; type: string; source: string; options?: string[] }[];
  linux: {
    resources?: Record<string, unknown>;
    cgroupsPath?: string;
    namespaces: { type: string; path?: string }[];
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface BundleInput {
  hostname: string;
  image: ImageProcessConfig;
  command: string[];
  args: string[];
  env: Record<string, string>;
  user: { uid: number; gid: number };
  volumes: { source: string; destination: string; readOnly: boolean }[];
  cgroupsPath: string;
  cpu: { quota: number; period: number };
  memory: { limit: number; swap: number };
  io?: { major: number; minor: number; readBps: number; writeBps: number };
  /** process.terminal: a pty for the process, or the shim's pipes as its stdio. */
  tty: boolean;
  /** A network namespace made beforehand (the data plane's veth is in it); absent = a new, empty one. */
  netnsPath?: string;
}

/**
 * The argv a container runs, with Kubernetes' rules for command and args:
 * command replaces the image's entrypoint (and drops its cmd), args replaces its cmd.
 */
export const processArgs = (image: ImageProcessConfig, command: string[], args: string[]): string[] => {
  const argv = command.length > 0 ? [...command, ...args] : [...image.entrypoint, ...(args.length > 0 ? args : image.cmd)];
  if (argv.length === 0) throw new InvalidArgument('spec.command: the image names no entrypoint or cmd; give spec.command');
  return argv;
};

/** Later lists win, variable by variable; the order of first appearance is kept. */
export const mergeEnv = (...lists: string[][]): string[] => {
  const m = new Map<string, string>();
  for (const l of lists)
    for (const kv of l) {
      const i = kv.indexOf('=');
      m.set(i < 0 ? kv : kv.slice(0, i), kv);
    }
  return [...m.values()];
};

/**
 * The bundle's config.json: runc's own default spec (what `runc spec` writes:
 * its capabilities, masked and read-only paths, namespaces, devices), with only
 * what the instance asks for changed. The root is writable (it is the
 * container's overlay); everything else of the defaults stays as runc has it.
 */
export const buildConfig = (base: OciSpec, b: BundleInput): OciSpec => {
  const spec = structuredClone(base);
  spec.process.args = processArgs(b.image, b.command, b.args);
  // runc's TERM describes its terminal; without one there is none to describe (as with Docker without -t).
  const runtimeEnv = b.tty ? spec.process.env : spec.process.env.filter((kv) => !kv.startsWith('TERM='));
  spec.process.env = mergeEnv(runtimeEnv, b.image.env, [`HOSTNAME=${b.hostname}`], Object.entries(b.env).map(([k, v]) => `${k}=${v}`));
  spec.process.cwd = b.image.workingDir || '/';
  spec.process.user = { uid: b.user.uid, gid: b.user.gid };
  spec.process.terminal = b.tty;
  spec.root = { path: 'rootfs', readonly: false };
  spec.hostname = b.hostname;
  spec.mounts = [
    ...spec.mounts,
    ...b.volumes.map((v) => ({ destination: v.destination, type: 'bind', source: v.source, options: ['rbind', 'nosuid', 'nodev', v.readOnly ? 'ro' : 'rw'] })),
  ];
  const want = ['pid', 'mount', 'uts', 'ipc', 'network'];
  const have = new Set(spec.linux.namespaces.map((n) => n.type));
  spec.linux.namespaces = [...spec.linux.namespaces, ...want.filter((t) => !have.has(t)).map((type) => ({ type }))].map((n) =>
    n.type === 'network' && b.netnsPath ? { type: 'network', path: b.netnsPath } : n,
  );
  spec.linux.cgroupsPath = b.cgroupsPath;
  spec.linux.resources = {
    ...(spec.linux.resources ?? {}),
    cpu: { quota: b.cpu.quota, period: b.cpu.period },
    memory: { limit: b.memory.limit, swap: b.memory.swap },
    ...(b.io && (b.io.readBps || b.io.writeBps)
      ? {
          blockIO: {
            ...(b.io.readBps ? { throttleReadBpsDevice: [{ major: b.io.major, minor: b.io.minor, rate: b.io.readBps }] } : {}),
            ...(b.io.writeBps ? { throttleWriteBpsDevice: [{ major: b.io.major, minor: b.io.minor, rate: b.io.writeBps }] } : {}),
          },
        }
      : {}),
  };
  return spec;
};

/** The limits an instance runs under: spec.limits where given, else from cpu_cores and memory_bytes. */
export const resourcesFor = (
  cpuCores: number,
  memoryBytes: number,
  l: { cpuQuota: number; cpuPeriod: number; memoryLimit: number; memorySwap: number } | undefined,
): { cpu: BundleInput['cpu']; memory: BundleInput['memory'] } => {
  const period = l?.cpuPeriod || 100_000;
  const limit = l?.memoryLimit || memoryBytes;
  // memory_swap is memory plus swap, as in Docker; unset = no swap beyond the memory limit.
  return { cpu: { quota: l?.cpuQuota || cpuCores * period, period }, memory: { limit, swap: l?.memorySwap || limit } };
};

/**
 * The image's `User` (uid, uid:gid, or names from the image's /etc/passwd and
 * /etc/group) as numbers; empty = root.
 */
export const resolveUser = (user: string, passwd: string, group: string): { uid: number; gid: number } => {
  if (!user) return { uid: 0, gid: 0 };
  const [u, g] = user.split(':');
  const entries = (text: string) => text.split('\n').filter(Boolean).map((l) => l.split(':'));
  const pw = entries(passwd);
  let uid: number;
  let gid: number;
  if (/^[0-9]+$/.test(u)) {
    uid = Number(u);
    gid = Number(pw.find((e) => e[2] === u)?.[3] ?? 0);
  } else {
    const e = pw.find((x) => x[0] === u);
    if (!e) throw new InvalidArgument(`spec.image: the image runs as user "${u}", which its /etc/passwd does not have`);
    uid = Number(e[2]);
    gid = Number(e[3]);
  }
  if (g !== undefined) {
    if (/^[0-9]+$/.test(g)) gid = Number(g);
    else {
      const e = entries(group).find((x) => x[0] === g);
      if (!e) throw new InvalidArgument(`spec.image: the image runs as group "${g}", which its /etc/group does not have`);
      gid = Number(e[2]);
    }
  }
  return { uid, gid };
};

/**
 * The bundle's config.json for a run of the container: its volumes' host
 * directories made, its IO throttled on the disk that holds the bundle, its
 * user looked up in the image, all on top of runc's default spec.
 */
export const assembleConfig = async (
  dir: ContainerDir,
  spec: InstanceSpecForDriver,
  o: { baseSpec: () => Promise<OciSpec>; volumesDir: string; cgroupsPath: string; mounts?: { source: string; destination: string }[] },
): Promise<OciSpec> => {
  const c = spec.container!;
  const volumes = [];
  for (const m of c.volumeMounts) {
    const source = path.join(o.volumesDir, m.name);
    // Created on first use, kept until the volume is removed: a container's delete leaves it.
    await mkdir(source, { recursive: true });
    volumes.push({ source, destination: m.mountPath, readOnly: m.readOnly });
  }
  // StorageService volumes: their file systems, mounted on the host by the agent's storage work.
  for (const m of o.mounts ?? []) volumes.push({ ...m, readOnly: false });
  const { cpu, memory } = resourcesFor(spec.cpuCores, spec.memoryBytes, c.limits);
  let io;
  if (c.limits && (c.limits.ioReadBps || c.limits.ioWriteBps)) {
    const disk = await diskOf(dir.dir);
    if (!disk) throw new FailedPrecondition(`spec.limits.io_*_bps: no block device holds ${dir.dir}, so IO cannot be throttled on this node`);
    io = { ...disk, readBps: c.limits.ioReadBps, writeBps: c.limits.ioWriteBps };
  }
  // Root needs no look-up: most images name no user, and their start reads neither file.
  const [passwd, group] = c.image.user ? await Promise.all([imageFile(c.rootfsPath, 'etc/passwd'), imageFile(c.rootfsPath, 'etc/group')]) : ['', ''];
  const user = resolveUser(c.image.user, passwd, group);
  return buildConfig(await o.baseSpec(), {
    hostname: c.hostname,
    tty: c.tty !== false,
    image: c.image,
    command: c.command,
    args: c.args,
    env: c.env,
    user,
    volumes,
    cgroupsPath: o.cgroupsPath,
    cpu,
    memory,
    io,
    // Every port of a container is in one namespace; the data plane made it and keeps it.
    netnsPath: spec.nics?.find((n) => n.netns)?.netns,
  });
};

/** A file of the image, read only when it is a regular file: a symlink in an image must not read the host's files. */
const imageFile = async (rootfs: string, rel: string): Promise<string> => {
  const p = path.join(rootfs, rel);
  const st = await lstat(p).catch(() => undefined);
  return st?.isFile() ? readFile(p, 'utf8') : '';
};
