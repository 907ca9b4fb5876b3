import { InvalidArgument } from '../errors';
import type { Resources } from '../domain/resources';
import type { Resources as WireResources } from '../gen/hypervisor/v1/common';

/**
 * 64-bit proto fields are bigint on the wire (exact); the domain counts in
 * numbers, which are exact up to 2^53. The conversion happens here, at the
 * edge, and a value a number cannot hold exactly is refused rather than rounded.
 */
export const toInt64 = (n: number): bigint => BigInt(Math.trunc(n));

/** A wire int64 as a number; INVALID_ARGUMENT naming `field` beyond [min, 2^53). */
export const fromInt64 = (v: bigint, field: string, min = 0n, max = BigInt(Number.MAX_SAFE_INTEGER)): number => {
  if (v < min || v > max) throw new InvalidArgument(`${field}: ${v} is out of range [${min}, ${max}]`);
  return Number(v);
};

/** A revision or count from the log: always a safe integer, so no check is needed. */
export const revision = (n: number): bigint => BigInt(n);

export const resourcesToWire = (r: Resources): WireResources => ({
  cpuCores: r.cpuCores,
  memoryBytes: toInt64(r.memoryBytes),
  diskBytes: toInt64(r.diskBytes),
  gpuCount: r.gpuCount,
});

/** Resources from the wire (absent fields are 0); 64-bit values beyond 2^53 are refused. */
export const resourcesFromWire = (r: Partial<WireResources> | undefined, field: string): Resources => ({
  cpuCores: r?.cpuCores ?? 0,
  memoryBytes: fromInt64(r?.memoryBytes ?? 0n, `${field}.memory_bytes`, BigInt(Number.MIN_SAFE_INTEGER)),
  diskBytes: fromInt64(r?.diskBytes ?? 0n, `${field}.disk_bytes`, BigInt(Number.MIN_SAFE_INTEGER)),
  gpuCount: r?.gpuCount ?? 0,
});
