/** CPU, memory, disk and GPUs, as the Resources message has them. */
export interface Resources {
  readonly cpuCores: number;
  readonly memoryBytes: number;
  readonly diskBytes: number;
  readonly gpuCount: number;
}

export const ZERO: Resources = { cpuCores: 0, memoryBytes: 0, diskBytes: 0, gpuCount: 0 };

const KEYS = ['cpuCores', 'memoryBytes', 'diskBytes', 'gpuCount'] as const;

export const add = (a: Resources, b: Resources): Resources =>
  Object.fromEntries(KEYS.map((k) => [k, a[k] + b[k]])) as unknown as Resources;

export const sub = (a: Resources, b: Resources): Resources =>
  Object.fromEntries(KEYS.map((k) => [k, a[k] - b[k]])) as unknown as Resources;

/** The first resource that `want` needs more of than `free` has, if any. */
export const shortfall = (free: Resources, want: Resources): (typeof KEYS)[number] | undefined =>
  KEYS.find((k) => want[k] > free[k]);

export const normalize = (r: Partial<Resources> | undefined): Resources => ({
  cpuCores: r?.cpuCores ?? 0,
  memoryBytes: r?.memoryBytes ?? 0,
  diskBytes: r?.diskBytes ?? 0,
  gpuCount: r?.gpuCount ?? 0,
});
