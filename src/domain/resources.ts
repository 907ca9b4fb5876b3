/** CPU, memory, disk and GPUs, as the Resources message has them. */
export interface Resources {
  readonly cpuCores: number;
  readonly memoryBytes: number;
  readonly diskBytes: number;
  readonly gpuCount: number;
}

export const ZERO: Resources = { cpuCores: 0, memoryBytes: 0, diskBytes: 0, gpuCount: 0 };

const KEYS = ['cpuCores', 'memoryBytes', 'diskBytes', 'gpuCount'] as const;

// Written out rather than mapped over KEYS: the scheduler adds up every node's
// reservations for every placement, and Object.fromEntries made these two a
// fifth of the server's CPU in a burst of placements (BENCHMARKS.md, Scale).
export const add = (a: Resources, b: Resources): Resources => ({
  cpuCores: a.cpuCores + b.cpuCores,
  memoryBytes: a.memoryBytes + b.memoryBytes,
  diskBytes: a.diskBytes + b.diskBytes,
  gpuCount: a.gpuCount + b.gpuCount,
});

export const sub = (a: Resources, b: Resources): Resources => ({
  cpuCores: a.cpuCores - b.cpuCores,
  memoryBytes: a.memoryBytes - b.memoryBytes,
  diskBytes: a.diskBytes - b.diskBytes,
  gpuCount: a.gpuCount - b.gpuCount,
});

/** The first resource that `want` needs more of than `free` has, if any. */
export const shortfall = (free: Resources, want: Resources): (typeof KEYS)[number] | undefined =>
  KEYS.find((k) => want[k] > free[k]);

export const normalize = (r: Partial<Resources> | undefined): Resources => ({
  cpuCores: r?.cpuCores ?? 0,
  memoryBytes: r?.memoryBytes ?? 0,
  diskBytes: r?.diskBytes ?? 0,
  gpuCount: r?.gpuCount ?? 0,
});

/**
 * What one node may declare (capacity) or report (allocated), so that every
 * value and every sum the API serves stays exact: cores and GPUs are int32 on
 * the wire, bytes are int64 kept as numbers (exact below 2^53).
 * cpu_cores ≤ 65,536; memory_bytes ≤ 2^50 (1 PiB); disk_bytes ≤ 2^53 − 1
 * (8 PiB); gpu_count ≤ 1,024. Documented in docs/api-limits.md.
 */
export const NODE_RESOURCE_MAX: Resources = {
  cpuCores: 65_536,
  memoryBytes: 2 ** 50,
  diskBytes: Number.MAX_SAFE_INTEGER,
  gpuCount: 1_024,
};
