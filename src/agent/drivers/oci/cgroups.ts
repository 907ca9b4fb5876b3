import { readFileSync } from 'node:fs';
import { readFile, rmdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * Where the cgroup hierarchies are mounted. Hosts differ: pure cgroup v2 at
 * /sys/fs/cgroup, v1 controllers each on their own mount, or both ("hybrid":
 * v1 controllers plus a v2 mount at /sys/fs/cgroup/unified with no controllers,
 * as on this project's machines). runc places a container in every hierarchy
 * at the same path, so one cgroupsPath finds it in each.
 */
export interface CgroupLayout {
  /** v1 controller name → its mount point (comounted controllers share one). */
  readonly v1: ReadonlyMap<string, string>;
  readonly v2?: string;
  /** Controllers enabled on the v2 mount (cgroup.controllers); empty in hybrid mode. */
  readonly v2Controllers: readonly string[];
  /** Every cgroup mount, named hierarchies (name=systemd) included: runc makes the container's dir in each. */
  readonly mounts: readonly string[];
}

const V1_CONTROLLERS = new Set(['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'net_cls', 'net_prio', 'blkio', 'perf_event', 'hugetlb', 'pids', 'rdma', 'misc']);

/** From /proc/self/mounts text (pure). */
export const parseCgroupMounts = (mounts: string, v2Controllers: (mountPoint: string) => string[] = () => []): CgroupLayout => {
  const v1 = new Map<string, string>();
  const all: string[] = [];
  let v2: string | undefined;
  for (const line of mounts.split('\n')) {
    const [, mountPoint, fstype, options] = line.split(' ');
    if (!mountPoint) continue;
    const mp = mountPoint.replace(/\\040/g, ' ');
    if ((fstype === 'cgroup' || fstype === 'cgroup2') && !all.includes(mp)) all.push(mp);
    if (fstype === 'cgroup2') v2 ??= mp;
    else if (fstype === 'cgroup')
      for (const o of options.split(',')) if (V1_CONTROLLERS.has(o)) v1.set(o, mp);
  }
  return { v1, ...(v2 ? { v2 } : {}), v2Controllers: v2 ? v2Controllers(v2) : [], mounts: all };
};

export const readCgroupLayout = (): CgroupLayout =>
  parseCgroupMounts(readFileSync('/proc/self/mounts', 'utf8'), (mp) => {
    try {
      return readFileSync(path.join(mp, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {
      return [];
    }
  });

/** The directory of `cgPath` for a controller: its v1 hierarchy if it has one, else v2 when v2 runs that controller. */
export const controllerDir = (l: CgroupLayout, controller: string, cgPath: string): { dir: string; version: 1 | 2 } | undefined => {
  const v1 = l.v1.get(controller);
  if (v1) return { dir: path.join(v1, cgPath), version: 1 };
  if (l.v2 && l.v2Controllers.includes(controller)) return { dir: path.join(l.v2, cgPath), version: 2 };
  return undefined;
};

/** Every directory the container has, in every hierarchy (what must be gone after a delete). */
export const allDirs = (l: CgroupLayout, cgPath: string): string[] => l.mounts.map((mp) => path.join(mp, cgPath));

/** `key value` lines (memory.stat, cpu.stat, memory.events). */
export const parseFlatKeyed = (text: string): Map<string, number> => {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?[0-9]+$/.test(v)) m.set(k, Number(v));
  }
  return m;
};

/** v1 blkio.throttle.io_service_bytes: `<maj:min> Read|Write|... <n>` lines, summed over devices. */
export const parseBlkioServiceBytes = (text: string): { read: number; write: number } => {
  let read = 0;
  let write = 0;
  for (const line of text.split('\n')) {
    const [dev, op, n] = line.trim().split(/\s+/);
    if (!dev?.includes(':') || n === undefined) continue;
    if (op === 'Read') read += Number(n);
    else if (op === 'Write') write += Number(n);
  }
  return { read, write };
};

/** v2 io.stat: `<maj:min> rbytes=… wbytes=… …` lines, summed over devices. */
export const parseIoStat = (text: string): { read: number; write: number } => {
  let read = 0;
  let write = 0;
  for (const line of text.split('\n'))
    for (const kv of line.trim().split(/\s+/).slice(1)) {
      const [k, v] = kv.split('=');
      if (k === 'rbytes') read += Number(v);
      else if (k === 'wbytes') write += Number(v);
    }
  return { read, write };
};

export interface CgroupStats {
  cpuTimeNs: number;
  memoryUsedBytes: number;
  memoryCacheBytes: number;
  ioReadBytes: number;
  ioWriteBytes: number;
}

const read = (f: string) => readFile(f, 'utf8').catch(() => '');

export const readCgroupStats = async (l: CgroupLayout, cgPath: string): Promise<CgroupStats> => {
  const out: CgroupStats = { cpuTimeNs: 0, memoryUsedBytes: 0, memoryCacheBytes: 0, ioReadBytes: 0, ioWriteBytes: 0 };
  const cpu = controllerDir(l, 'cpuacct', cgPath) ?? controllerDir(l, 'cpu', cgPath);
  if (cpu?.version === 1) out.cpuTimeNs = Number((await read(path.join(cpu.dir, 'cpuacct.usage'))).trim() || 0);
  else if (l.v2) out.cpuTimeNs = (parseFlatKeyed(await read(path.join(l.v2, cgPath, 'cpu.stat'))).get('usage_usec') ?? 0) * 1000;
  const mem = controllerDir(l, 'memory', cgPath);
  if (mem?.version === 1) {
    const stat = parseFlatKeyed(await read(path.join(mem.dir, 'memory.stat')));
    const cache = stat.get('total_cache') ?? stat.get('cache') ?? 0;
    out.memoryCacheBytes = cache;
    out.memoryUsedBytes = Math.max(0, Number((await read(path.join(mem.dir, 'memory.usage_in_bytes'))).trim() || 0) - cache);
  } else if (mem) {
    const stat = parseFlatKeyed(await read(path.join(mem.dir, 'memory.stat')));
    out.memoryCacheBytes = stat.get('file') ?? 0;
    out.memoryUsedBytes = Math.max(0, Number((await read(path.join(mem.dir, 'memory.current'))).trim() || 0) - out.memoryCacheBytes);
  }
  const io = controllerDir(l, 'blkio', cgPath) ?? controllerDir(l, 'io', cgPath);
  const bytes = io?.version === 1 ? parseBlkioServiceBytes(await read(path.join(io.dir, 'blkio.throttle.io_service_bytes'))) : io ? parseIoStat(await read(path.join(io.dir, 'io.stat'))) : undefined;
  if (bytes) {
    out.ioReadBytes = bytes.read;
    out.ioWriteBytes = bytes.write;
  }
  return out;
};

/** Files whose `oom_kill` line counts OOM kills in the container's memory cgroup (v1 memory.oom_control, v2 memory.events). */
export const oomFiles = (l: CgroupLayout, cgPath: string): string[] => {
  const mem = controllerDir(l, 'memory', cgPath);
  if (!mem) return [];
  return [path.join(mem.dir, mem.version === 1 ? 'memory.oom_control' : 'memory.events')];
};

/** The `oom_kill` count of those files (0 when they are gone). */
export const oomKills = async (files: string[]): Promise<number> => {
  let n = 0;
  for (const f of files) n = Math.max(n, parseFlatKeyed(await read(f)).get('oom_kill') ?? 0);
  return n;
};

/** The CFS quota and period the container runs under, in µs (quota -1 = none). */
export const readCpuLimit = async (l: CgroupLayout, cgPath: string): Promise<{ quota: number; period: number } | undefined> => {
  const cpu = controllerDir(l, 'cpu', cgPath);
  if (!cpu) return undefined;
  if (cpu.version === 1) {
    const [q, p] = await Promise.all([read(path.join(cpu.dir, 'cpu.cfs_quota_us')), read(path.join(cpu.dir, 'cpu.cfs_period_us'))]);
    return q && p ? { quota: Number(q.trim()), period: Number(p.trim()) } : undefined;
  }
  const [q, p] = (await read(path.join(cpu.dir, 'cpu.max'))).trim().split(/\s+/);
  return p ? { quota: q === 'max' ? -1 : Number(q), period: Number(p) } : undefined;
};

/** The memory limit in bytes (v1 memory.limit_in_bytes, v2 memory.max). */
export const readMemoryLimit = async (l: CgroupLayout, cgPath: string): Promise<number | undefined> => {
  const mem = controllerDir(l, 'memory', cgPath);
  if (!mem) return undefined;
  const v = (await read(path.join(mem.dir, mem.version === 1 ? 'memory.limit_in_bytes' : 'memory.max'))).trim();
  return v ? (v === 'max' ? Infinity : Number(v)) : undefined;
};

/** Removes an (empty) parent cgroup from every hierarchy; a parent still in use stays. */
export const removeCgroupDirs = async (l: CgroupLayout, cgPath: string): Promise<void> => {
  await Promise.all(allDirs(l, cgPath).map((d) => rmdir(d).catch(() => undefined)));
};
